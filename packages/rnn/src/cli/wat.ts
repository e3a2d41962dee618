// `unroll-rnn wat`: the exact WebAssembly text the wasm backend assembles (kernels/wasm/wat/*.ts
// generate it; build.ts hashes and assembles this very string), so a change to a template can be
// read and diffed as code. Stdout carries the text only; the variant and hash go to stderr.

import { writeFileSync } from 'node:fs';
import { kernelSource } from '../kernels/wasm/build.ts';
import { defaultVariant } from '../kernels/wasm/load.ts';
import { type Flags, str, UsageError } from './args.ts';

export const WAT_OPTIONS = {
  fma: { type: 'string' },
  out: { type: 'string' },
} as const;

export const WAT_USAGE = `usage: unroll-rnn wat [--fma on|off (this process's default)] [--out FILE.wat (stdout)]
  prints the WebAssembly text the wasm backend compiles; functions keep their export names ($gemm_nn, …)`;

export function runWat(flags: Flags, log: (line: string) => void): void {
  const fma = str(flags, 'fma');
  if (fma !== undefined && fma !== 'on' && fma !== 'off') throw new UsageError(`--fma must be on or off, got '${fma}'`);
  const variant = { ...defaultVariant(), ...(fma !== undefined ? { fma: fma === 'on' } : {}) };
  const source = kernelSource(variant);
  process.stderr.write(`;; wasm kernels: fma ${variant.fma ? 'on' : 'off'}, sha256 ${source.hash}, ${source.text.length} characters\n`);
  const out = str(flags, 'out');
  if (out !== undefined) writeFileSync(out, source.text);
  else log(source.text.replace(/\n$/, ''));
}
