// `unroll-rnn sample`: text from a trained character language model.

import { readFileSync } from 'node:fs';
import { RnnModel } from '../model.ts';
import { type Flags, num, required, str } from './args.ts';

export const SAMPLE_OPTIONS = {
  weights: { type: 'string' },
  prime: { type: 'string' },
  length: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  seed: { type: 'string' },
} as const;

export const SAMPLE_USAGE = `usage: unroll-rnn sample --weights FILE.safetensors [--prime TEXT ('')] [--length N (200)]
  [--temperature T (1; 0 = greedy)] [--top-k K] [--seed S (0)]`;

export function runSample(flags: Flags, log: (line: string) => void): void {
  const model = RnnModel.fromSafetensors(readFileSync(required(flags, 'weights')));
  const topK = num(flags, 'top-k', { integer: true, min: 1 });
  const text = model.sample({
    prime: str(flags, 'prime') ?? '',
    length: num(flags, 'length', { integer: true, min: 0 }) ?? 200,
    temperature: num(flags, 'temperature', { min: 0 }) ?? 1,
    seed: num(flags, 'seed', { integer: true }) ?? 0,
    ...(topK !== undefined ? { topK } : {}),
  });
  log(text);
}
