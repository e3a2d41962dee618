#!/usr/bin/env -S node --import tsx
// Engine CLI: `node --import tsx packages/rnn/src/cli.ts <train|grad|sample> [flags]`.
// Exit codes: 0 ok, 1 data/model/training error (with its code), 2 usage error.

import { parseArgs } from 'node:util';
import { GRAD_OPTIONS, GRAD_USAGE, runGrad } from './cli/grad.ts';
import { runSample, SAMPLE_OPTIONS, SAMPLE_USAGE } from './cli/sample.ts';
import { runTrain, TRAIN_OPTIONS, TRAIN_USAGE } from './cli/train.ts';
import { UsageError } from './cli/args.ts';

const COMMANDS = {
  train: { options: TRAIN_OPTIONS, usage: TRAIN_USAGE, run: runTrain },
  grad: { options: GRAD_OPTIONS, usage: GRAD_USAGE, run: runGrad },
  sample: { options: SAMPLE_OPTIONS, usage: SAMPLE_USAGE, run: runSample },
} as const;

const USAGE = `usage: unroll-rnn <command> [flags]
commands:
  train    train an Elman RNN with BPTT on a text corpus, JSON sequences or a CSV series
  grad     one forward + backward of a batch: loss, final hidden state, every gradient
  sample   generate text from a trained character language model
run 'unroll-rnn <command> --help' for its flags`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return command === undefined ? 2 : 0;
  }
  const cmd = COMMANDS[command as keyof typeof COMMANDS];
  if (cmd === undefined) {
    process.stderr.write(`error: unknown command '${command}'\n${USAGE}\n`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage}\n`);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({ args: rest, options: cmd.options, strict: true, allowPositionals: true });
    if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
    await cmd.run(values as Record<string, string | boolean | undefined>, (line) => process.stdout.write(`${line}\n`));
    return 0;
  } catch (e) {
    const err = e as Error & { code?: string; line?: number; column?: number; field?: string };
    if (e instanceof UsageError || err.code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`error: ${err.message}\n${cmd.usage}\n`);
      return 2;
    }
    if (typeof err.code === 'string') {
      const where = [err.field && `field ${err.field}`, err.line && `line ${err.line}`, err.column && `column ${err.column}`].filter(Boolean).join(', ');
      process.stderr.write(`error [${err.code}]${where ? ` (${where})` : ''}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/cli.ts')) {
  process.exitCode = await main(process.argv.slice(2));
}
