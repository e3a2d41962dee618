// Learning-rate schedules, stepped once per epoch like a PyTorch LR scheduler, in closed form
// so a resumed run gets the same rate without replaying scheduler steps.

import type { ScheduleSpec } from './spec.ts';

/**
 * Learning rate for 0-based `epoch`.
 * - constant: baseLr
 * - step (StepLR): baseLr · gamma^floor(epoch / stepSize)
 * - cosine (CosineAnnealingLR closed form): etaMin + (baseLr − etaMin)(1 + cos(π·epoch/tMax))/2,
 *   held at etaMin for epoch ≥ tMax (PyTorch would rise again; we do not restart).
 */
export function learningRateAt(spec: ScheduleSpec, baseLr: number, epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0) throw new RangeError(`epoch must be a non-negative integer, got ${epoch}`);
  switch (spec.kind) {
    case 'constant':
      return baseLr;
    case 'step': {
      if (!Number.isSafeInteger(spec.stepSize) || spec.stepSize < 1) {
        throw new RangeError(`schedule.stepSize must be a positive integer, got ${spec.stepSize}`);
      }
      return baseLr * spec.gamma ** Math.floor(epoch / spec.stepSize);
    }
    case 'cosine': {
      if (!Number.isSafeInteger(spec.tMax) || spec.tMax < 1) {
        throw new RangeError(`schedule.tMax must be a positive integer, got ${spec.tMax}`);
      }
      const etaMin = spec.etaMin ?? 0;
      if (epoch >= spec.tMax) return etaMin;
      return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * epoch) / spec.tMax))) / 2;
    }
    default: {
      const kind: never = spec;
      throw new RangeError(`unknown schedule kind ${JSON.stringify((kind as { kind: unknown }).kind)}`);
    }
  }
}
