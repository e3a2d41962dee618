import { describe, expect, it } from 'vitest';
import { clipGradNorm, clipGradValue, findNonFinite, globalNorm, paramNorms } from '../src/clip.ts';
import { paramLayout } from '../src/layout.ts';
import { torchReference } from './reference/torch-reference.ts';

describe('clipGradNorm matches torch.nn.utils.clip_grad_norm_', () => {
  it.each(torchReference.clip)('grads $grads, maxNorm $maxNorm', (c) => {
    const g = Float64Array.from(c.grads);
    const { totalNorm, clipped } = clipGradNorm(g, c.maxNorm);
    expect(totalNorm).toBeCloseTo(c.totalNorm, 12);
    expect(clipped).toBe(c.maxNorm / (c.totalNorm + 1e-6) < 1);
    for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(c.clipped[i], 12);
  });

  it('works on float32 buffers with a double-precision norm', () => {
    const g = Float32Array.from([3, -4, 0, 12]);
    const r = clipGradNorm(g, 1);
    expect(r.totalNorm).toBe(13);
    expect(globalNorm(g)).toBeCloseTo(1, 5);
  });

  it('leaves non-finite gradients untouched and reports the norm', () => {
    const g = Float64Array.from([1, Number.NaN, 2]);
    const r = clipGradNorm(g, 0.1);
    expect(r.totalNorm).toBeNaN();
    expect(r.clipped).toBe(false);
    expect(g[0]).toBe(1);
  });
});

describe('clipGradValue', () => {
  it('clamps element-wise and counts the changed elements', () => {
    const g = Float64Array.from([-7, -5, -4.9, 0, 5, 5.1, 80]);
    expect(clipGradValue(g, 5)).toEqual({ clippedCount: 3 });
    expect(Array.from(g)).toEqual([-5, -5, -4.9, 0, 5, 5, 5]);
  });
});

describe('findNonFinite / paramNorms', () => {
  const layout = paramLayout(2, 3, 2); // Wxh 6, Whh 9, bih 3, bhh 3, Why 6, by 2 = 29

  it('names the first non-finite value by parameter and index', () => {
    const buf = new Float32Array(layout.total);
    expect(findNonFinite(buf, layout)).toBeNull();
    buf[layout.byName.Why.offset + 4] = Number.POSITIVE_INFINITY;
    buf[layout.byName.by.offset] = Number.NaN;
    expect(findNonFinite(buf, layout)).toEqual({ param: 'Why', index: 4 });
    buf[layout.byName.Whh.offset + 2] = Number.NaN;
    expect(findNonFinite(buf, layout)).toEqual({ param: 'Whh', index: 2 });
  });

  it('computes the L2 norm of every tensor', () => {
    const buf = new Float64Array(layout.total);
    buf[layout.byName.Wxh.offset] = 3;
    buf[layout.byName.Wxh.offset + 5] = 4;
    buf[layout.byName.by.offset + 1] = -2;
    expect(paramNorms(buf, layout)).toEqual({ Wxh: 5, Whh: 0, bih: 0, bhh: 0, Why: 0, by: 2 });
  });
});
