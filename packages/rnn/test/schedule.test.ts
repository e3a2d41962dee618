import { describe, expect, it } from 'vitest';
import { learningRateAt } from '../src/schedule.ts';
import { torchReference } from './reference/torch-reference.ts';

describe('learningRateAt matches PyTorch schedulers (lr used during each epoch)', () => {
  it.each(torchReference.schedules)('$spec.kind $spec', (c) => {
    c.lrs.forEach((lr, epoch) => expect(learningRateAt(c.spec, c.baseLr, epoch)).toBeCloseTo(lr, 14));
  });

  it('constant keeps the base rate', () => {
    expect(learningRateAt({ kind: 'constant' }, 0.3, 0)).toBe(0.3);
    expect(learningRateAt({ kind: 'constant' }, 0.3, 1000)).toBe(0.3);
  });

  it('StepLR closed form', () => {
    const s = { kind: 'step', stepSize: 2, gamma: 0.1 } as const;
    expect([0, 1, 2, 3, 4].map((e) => learningRateAt(s, 1, e))).toEqual([1, 1, 0.1, 0.1, 0.1 ** 2]);
  });

  it('cosine holds etaMin from tMax on', () => {
    const s = { kind: 'cosine', tMax: 4, etaMin: 0.01 } as const;
    expect(learningRateAt(s, 1, 2)).toBeCloseTo(0.505, 14);
    expect(learningRateAt(s, 1, 4)).toBe(0.01);
    expect(learningRateAt(s, 1, 50)).toBe(0.01);
    expect(learningRateAt({ kind: 'cosine', tMax: 4 }, 1, 9)).toBe(0);
  });

  it('rejects bad epochs and bad specs', () => {
    expect(() => learningRateAt({ kind: 'constant' }, 1, -1)).toThrow(RangeError);
    expect(() => learningRateAt({ kind: 'constant' }, 1, 0.5)).toThrow(RangeError);
    expect(() => learningRateAt({ kind: 'step', stepSize: 0, gamma: 0.5 }, 1, 1)).toThrow(/stepSize/);
    expect(() => learningRateAt({ kind: 'cosine', tMax: 0 }, 1, 1)).toThrow(/tMax/);
  });
});
