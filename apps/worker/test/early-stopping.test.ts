import { describe, expect, it } from 'vitest';
import { EarlyStopper } from '../src/early-stopping.ts';

describe('EarlyStopper', () => {
  it('tracks the best epoch and stops after `patience` epochs without improvement', () => {
    const s = new EarlyStopper({ patience: 2, minDelta: 0.05 });
    expect(s.observe(1, 1.0)).toEqual({ best: true, stop: false });
    expect(s.observe(2, 0.9)).toEqual({ best: true, stop: false });
    expect(s.observe(3, 0.88)).toEqual({ best: false, stop: false }); // within minDelta
    expect(s.observe(4, 0.95)).toEqual({ best: false, stop: true });
    expect(s.bestEpoch).toBe(2);
    expect(s.bestValLoss).toBe(0.9);
  });

  it('never stops without a config or without a validation loss', () => {
    const s = new EarlyStopper(null);
    s.observe(1, 1);
    for (let e = 2; e < 20; e++) expect(s.observe(e, 2).stop).toBe(false);
    expect(s.bestEpoch).toBe(1);
    const noVal = new EarlyStopper({ patience: 1, minDelta: 0 });
    expect(noVal.observe(1, null)).toEqual({ best: false, stop: false });
    expect(noVal.bestEpoch).toBeNull();
  });
});
