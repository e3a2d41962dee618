// Flag parsing helpers for the engine CLI: numbers and choices are checked, and every problem is
// a UsageError naming the flag.

import { writeFileSync, renameSync } from 'node:fs';

export class UsageError extends Error {
  readonly code = 'usage';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type Flags = Record<string, string | boolean | undefined>;

export function str(flags: Flags, name: string): string | undefined {
  const v = flags[name];
  return typeof v === 'string' ? v : undefined;
}

export function required(flags: Flags, name: string): string {
  const v = str(flags, name);
  if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
  return v;
}

export function num(flags: Flags, name: string, opts: { integer?: boolean; min?: number; max?: number; exclusiveMin?: boolean } = {}): number | undefined {
  const raw = str(flags, name);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  const what = opts.integer ? 'an integer' : 'a number';
  if (raw.trim() === '' || !Number.isFinite(v) || (opts.integer && !Number.isSafeInteger(v))) {
    throw new UsageError(`--${name} must be ${what}, got '${raw}'`);
  }
  if (opts.min !== undefined && (opts.exclusiveMin ? v <= opts.min : v < opts.min)) {
    throw new UsageError(`--${name} must be ${opts.exclusiveMin ? '>' : '>='} ${opts.min}, got ${v}`);
  }
  if (opts.max !== undefined && v > opts.max) throw new UsageError(`--${name} must be <= ${opts.max}, got ${v}`);
  return v;
}

export function choice<T extends string>(flags: Flags, name: string, choices: readonly T[]): T | undefined {
  const raw = str(flags, name);
  if (raw === undefined) return undefined;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${raw}'`);
  return raw as T;
}

/** Write via a temporary file and rename, so readers never see a half-written file. */
export function writeFileAtomic(path: string, data: Uint8Array | string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
