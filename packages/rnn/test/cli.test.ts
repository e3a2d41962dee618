// Smoke test of the real CLI process: train → sample → grad, plus usage and data errors.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kernelSource } from '../src/kernels/wasm/build.ts';
import { DEFAULT_BLOCKING } from '../src/kernels/wasm/wat/gemm.ts';
import { paramLayout } from '../src/layout.ts';
import { RnnModel } from '../src/model.ts';
import { decodeSafetensors } from '../src/safetensors.ts';
import { generateCorpus } from './helpers/grammar.ts';
import { referenceWindowLoss, type WindowCase } from './helpers/reference.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const CLI = 'packages/rnn/src/cli.ts';
const dir = mkdtempSync(join(tmpdir(), 'unroll-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const readTensors = (path: string) => {
  const b = readFileSync(path);
  return decodeSafetensors(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
};

describe('unroll-rnn wat', () => {
  it('prints exactly the text the wasm backend assembles, for either variant, and writes it with --out', () => {
    for (const fma of [false, true]) {
      const printed = cli('wat', '--fma', fma ? 'on' : 'off');
      expect(printed.status).toBe(0);
      const source = kernelSource({ blocking: DEFAULT_BLOCKING, fma });
      expect(printed.stdout).toBe(source.text.replace(/\n$/, '') + '\n');
      expect(printed.stderr).toContain(`sha256 ${source.hash}`);
      expect(printed.stdout).toMatch(/\(func \$gemm_nn \(export "gemm_nn"\)/); // stable, readable names
    }
    const file = join(dir, 'kernels.wat');
    expect(cli('wat', '--fma', 'off', '--out', file).status).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe(kernelSource({ blocking: DEFAULT_BLOCKING, fma: false }).text);
    expect(cli('wat', '--fma', 'maybe').status).toBe(2);
  });
});

describe('unroll-rnn CLI', () => {
  const corpus = join(dir, 'corpus.txt');
  writeFileSync(corpus, generateCorpus(150, 1));

  it('train → sample → grad', () => {
    const train = cli('train', '--data', corpus, '--hidden', '16', '--epochs', '2', '--batch', '4', '--k1', '10', '--k2', '12',
      '--lr', '0.02', '--clip-norm', '5', '--val-split', '0.1', '--seed', '3', '--log-every', '20', '--out', dir);
    expect(train.stderr).toBe('');
    expect(train.status).toBe(0);
    expect(train.stdout).toMatch(/^training lm \(wasm-simd(-fma)? kernels\)/); // the default backend
    expect(train.stdout).toMatch(/epoch 1\/2 {2}loss \d+\.\d+ {2}bpc \d+\.\d+ {2}val_loss/);
    expect(train.stdout).toMatch(/epoch 2\/2 /);
    expect(train.stdout).toMatch(/step 20 \(epoch 1, step 20\)/);
    const weights = join(dir, 'model.safetensors');
    const { tensors, metadata } = readTensors(weights);
    expect(tensors['rnn.weight_hh_l0'].shape).toEqual([16, 16]);
    expect(metadata.task).toBe('lm');
    expect(readFileSync(join(dir, 'trainer.ckpt')).subarray(0, 8).toString('latin1')).toBe('UNROLLCK');

    const sample = cli('sample', '--weights', weights, '--prime', 'the ', '--length', '40', '--temperature', '0.5', '--seed', '1');
    expect(sample.status).toBe(0);
    const text = sample.stdout.replace(/\n$/, '');
    expect(text.startsWith('the ')).toBe(true);
    expect([...text]).toHaveLength(44);
    expect(cli('sample', '--weights', weights, '--prime', 'the ', '--length', '40', '--temperature', '0.5', '--seed', '1').stdout).toBe(sample.stdout);

    // grad: two streams of 5 tokens with h0, loss on the newest 3 of a 4-step window
    const model = RnnModel.fromSafetensors(readFileSync(weights), { dtype: 'float64' });
    const V = model.spec.inputSize;
    const H = 16;
    const ids = [[1, 2, 3, 4, 0], [4, 3, 2, 1, 5]];
    const targets = [[2, 3, 4, 5, 1], [3, 2, 1, 0, 6]];
    const h0 = [Array.from({ length: H }, (_, j) => 0.1 * Math.sin(j)), Array.from({ length: H }, (_, j) => 0.05 * j - 0.3)];
    const batch = join(dir, 'batch.json');
    writeFileSync(batch, JSON.stringify({ inputs: ids, targets, h0 }));
    const out = join(dir, 'grads.safetensors');
    const g = cli('grad', '--weights', weights, '--batch', batch, '--out', out, '--k1', '5', '--k2', '5', '--reduction', 'sum');
    expect(g.stderr).toBe('');
    expect(g.status).toBe(0);
    const grads = readTensors(out).tensors;
    expect(Object.keys(grads).sort()).toEqual([
      'grad.fc.bias', 'grad.fc.weight', 'grad.h0', 'grad.rnn.bias_hh_l0', 'grad.rnn.bias_ih_l0', 'grad.rnn.weight_hh_l0', 'grad.rnn.weight_ih_l0', 'hidden', 'loss',
    ]);
    // the CLI's loss and a gradient entry agree with the naive reference (finite differences)
    const B = 2, T = 5;
    const c: WindowCase = {
      model: model.spec, lossKind: 'cross-entropy', reduction: 'sum', K: T, B, lossFrom: 0,
      ids: Int32Array.from({ length: T * B }, (_, r) => ids[r % B][Math.floor(r / B)]),
      x: new Float64Array(0),
      targetIds: Int32Array.from({ length: T * B }, (_, r) => targets[r % B][Math.floor(r / B)]),
      targetValues: new Float64Array(0), mask: new Uint8Array(T * B),
      h0: Float64Array.from(h0.flat()), layout: paramLayout(V, H, V), params: Float64Array.from(model.params),
    };
    expect(grads.loss.data[0]).toBeCloseTo(referenceWindowLoss(c).loss, 10);
    const whh = c.layout.byName.Whh.offset + 5 * H + 7;
    const eps = 1e-6;
    const p = c.params;
    p[whh] += eps;
    const lp = referenceWindowLoss(c).loss;
    p[whh] -= 2 * eps;
    const lm = referenceWindowLoss(c).loss;
    expect(grads['grad.rnn.weight_hh_l0'].data[5 * H + 7]).toBeCloseTo((lp - lm) / (2 * eps), 6);
  }, 60_000);

  it('--resume --epochs N continues a finished run bitwise; --init-weights starts from weights', () => {
    const common = ['--data', corpus, '--hidden', '12', '--batch', '4', '--k1', '8', '--k2', '10', '--lr', '0.02', '--val-split', '0.1', '--seed', '5'];
    const straight = join(dir, 'straight');
    const split = join(dir, 'split');
    for (const d of [straight, split]) mkdirSync(d);
    const a = cli('train', ...common, '--epochs', '2', '--out', straight);
    expect(a.status).toBe(0);
    expect(cli('train', ...common, '--epochs', '1', '--out', split).status).toBe(0);
    const resumed = cli('train', '--data', corpus, '--val-split', '0.1', '--resume', join(split, 'trainer.ckpt'), '--epochs', '2', '--out', split);
    expect(resumed.stderr).toBe('');
    expect(resumed.stdout).toMatch(/resumed .* at epoch 2, step 0/);
    expect(resumed.stdout).toMatch(/epoch 2\/2 /);
    const ta = readTensors(join(straight, 'model.safetensors')).tensors;
    const tb = readTensors(join(split, 'model.safetensors')).tensors;
    for (const name of Object.keys(ta)) expect(Buffer.compare(Buffer.from(ta[name].data.buffer), Buffer.from(tb[name].data.buffer)), name).toBe(0);

    const firstLoss = (out: string) => Number(/epoch 1\/\d+ {2}loss (\d+\.\d+)/.exec(out)![1]);
    const warm = cli('train', ...common, '--epochs', '1', '--init-weights', join(straight, 'model.safetensors'), '--out', join(dir, 'warm'));
    expect(warm.stderr).toBe('');
    expect(firstLoss(warm.stdout)).toBeLessThan(firstLoss(a.stdout));
  }, 60_000);

  it('--backend js trains on the reference kernels; --resume keeps the checkpoint\'s backend', () => {
    const out = join(dir, 'js');
    const first = cli('train', '--data', corpus, '--hidden', '8', '--batch', '4', '--epochs', '1', '--backend', 'js', '--out', out);
    expect(first.stderr).toBe('');
    expect(first.stdout).toMatch(/^training lm \(js kernels\)/);
    const resumed = cli('train', '--data', corpus, '--resume', join(out, 'trainer.ckpt'), '--epochs', '2', '--out', out);
    expect(resumed.stderr).toBe('');
    expect(resumed.stdout).toMatch(/resumed .* at epoch 2, step 0 \(js kernels\)/);
    const bad = cli('train', '--data', corpus, '--backend', 'gpu');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--backend/);
  }, 60_000);

  it('usage errors exit 2 with the usage; bad data exits 1 with its code', () => {
    const usage = cli('train', '--data', corpus, '--k1', '9', '--k2', '4');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--k1 \(9\) must be <= --k2 \(4\)/);
    expect(usage.stderr).toMatch(/usage: unroll-rnn train/);
    const unknown = cli('frobnicate');
    expect(unknown.status).toBe(2);
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '');
    const bad = cli('train', '--data', empty);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/error \[empty\]/);
  }, 60_000);
});
