// The `grad` command against PyTorch autograd (torch.nn.RNN + nn.Linear, float64), from the
// fixture test/helpers/torch-reference.json written by test/helpers/torch_reference.py on a
// machine with torch 2.11. Covers LM / regression / classification, masks, many-to-one,
// tanh / relu, tokens / vectors, mean / sum, full and truncated windows (k2 < T: detached prefix).

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runGrad } from '../src/cli/grad.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../src/safetensors.ts';

interface RefCase {
  name: string;
  task: 'lm' | 'regression' | 'classification';
  activation: 'tanh' | 'relu';
  inputKind: 'tokens' | 'vectors';
  reduction: 'mean' | 'sum';
  k1: number;
  k2: number;
  weights: Record<string, { shape: number[]; data: number[] }>;
  batch: unknown;
  expected: { loss: number; hidden: number[]; grads: Record<string, number[]>; gradH0: number[] };
}

const fixture = JSON.parse(readFileSync(join(import.meta.dirname, 'helpers/torch-reference.json'), 'utf8')) as { torch: string; cases: RefCase[] };
const dir = mkdtempSync(join(tmpdir(), 'unroll-torch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function expectClose(got: ArrayLike<number>, want: number[], what: string): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: ${got[i]} vs torch ${want[i]}`).toBeLessThanOrEqual(1e-10 * Math.max(1, Math.abs(want[i])));
  }
}

describe(`grad matches PyTorch ${fixture.torch} autograd`, () => {
  fixture.cases.forEach((c, n) => {
    it(c.name, () => {
      // a weight file like one saved from PyTorch: F32 tensors, no Unroll metadata
      const tensors: Record<string, Tensor> = {};
      for (const [name, w] of Object.entries(c.weights)) tensors[name] = { dtype: 'F32', shape: w.shape, data: Float32Array.from(w.data) };
      for (const [name, w] of Object.entries(c.weights)) expect(Array.from(tensors[name].data)).toEqual(w.data); // exact in F32
      const weights = join(dir, `w${n}.safetensors`);
      const batch = join(dir, `b${n}.json`);
      const out = join(dir, `g${n}.safetensors`);
      writeFileSync(weights, encodeSafetensors(tensors));
      writeFileSync(batch, JSON.stringify(c.batch));
      runGrad(
        { weights, batch, out, task: c.task, activation: c.activation, 'input-kind': c.inputKind, reduction: c.reduction, k1: String(c.k1), k2: String(c.k2) },
        () => {},
      );
      const bytes = readFileSync(out);
      const g = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)).tensors;
      expectClose(g.loss.data, [c.expected.loss], 'loss');
      expectClose(g.hidden.data, c.expected.hidden, 'hidden');
      expectClose(g['grad.h0'].data, c.expected.gradH0, 'grad.h0');
      for (const [name, want] of Object.entries(c.expected.grads)) expectClose(g[`grad.${name}`].data, want, `grad.${name}`);
    });
  });
});
