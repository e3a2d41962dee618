// Where a training step's time goes, kernel by kernel (bench/engine.ts --profile): the Kernels
// object wrapped so that every call is timed, and, on a two-thread WASM backend, each split
// call's time parted into the caller's own band and the wait for the helper.

import type { Kernels } from '../src/kernels/kernels.ts';
import type { BandTiming } from '../src/kernels/wasm/band-threads.ts';

// calls that manage buffers or threads rather than compute
const UNTIMED = new Set<PropertyKey>(['alloc', 'free', 'close', 'owns', 'recordBandTimings']);

export interface KernelProfile {
  /** The kernels to train with: every compute call goes through a timer. */
  kernels: Kernels;
  /** Starts (or restarts) recording: call after the warm-up steps. */
  start(): void;
  /** Rows for the calls since start, per step: kernel, ms, calls; and the split calls' waits. */
  report(steps: number): { kernels: ProfileRow[]; bands: BandRow[] };
}

export interface ProfileRow {
  kernel: string;
  msPerStep: number;
  callsPerStep: number;
}

export interface BandRow {
  kind: string;
  msPerStep: number;
  ownMsPerStep: number;
  waitMsPerStep: number;
}

export function profileKernels(inner: Kernels): KernelProfile {
  const ms = new Map<string, number>();
  const calls = new Map<string, number>();
  let bands: Map<string, BandTiming> | null = null;
  const kernels = new Proxy(inner, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (typeof value !== 'function') return value;
      if (UNTIMED.has(prop)) return value.bind(target);
      const name = String(prop);
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const result = value.apply(target, args);
        ms.set(name, (ms.get(name) ?? 0) + performance.now() - t0);
        calls.set(name, (calls.get(name) ?? 0) + 1);
        return result;
      };
    },
  });
  const recordBands = (inner as { recordBandTimings?: () => Map<string, BandTiming> | null }).recordBandTimings;
  return {
    kernels,
    start() {
      ms.clear();
      calls.clear();
      bands = recordBands?.call(inner) ?? null;
    },
    report(steps) {
      const per = (x: number): number => +(x / steps).toFixed(4);
      const rows = [...ms].map(([kernel, total]) => ({ kernel, msPerStep: per(total), callsPerStep: per(calls.get(kernel)!) }));
      const bandRows = [...(bands ?? [])].map(([kind, t]) => ({
        kind, msPerStep: per(t.totalMs), ownMsPerStep: per(t.ownMs), waitMsPerStep: per(t.totalMs - t.ownMs),
      }));
      return { kernels: rows.sort((a, b) => b.msPerStep - a.msPerStep), bands: bandRows.sort((a, b) => b.msPerStep - a.msPerStep) };
    },
  };
}
