// Best-epoch tracking on validation loss, and the patience rule of early stopping.
// Pure and replayable: after a resume the thread feeds it the epochs that already ran.
import type { EarlyStopping } from '@unroll/protocol';

export interface EarlyStoppingVerdict {
  /** This epoch has the lowest validation loss so far (by more than minDelta). */
  best: boolean;
  /** Patience exhausted: stop after this epoch. */
  stop: boolean;
}

export class EarlyStopper {
  private best: { epoch: number; valLoss: number } | null = null;
  private epochsWithoutImprovement = 0;

  constructor(private readonly config: EarlyStopping | null) {}

  get bestEpoch(): number | null {
    return this.best?.epoch ?? null;
  }

  get bestValLoss(): number | null {
    return this.best?.valLoss ?? null;
  }

  /** Records one finished epoch. Without a validation loss nothing can improve or stop. */
  observe(epoch: number, valLoss: number | null | undefined): EarlyStoppingVerdict {
    if (valLoss === null || valLoss === undefined || !Number.isFinite(valLoss)) return { best: false, stop: false };
    const minDelta = this.config?.minDelta ?? 0;
    if (this.best === null || valLoss < this.best.valLoss - minDelta) {
      this.best = { epoch, valLoss };
      this.epochsWithoutImprovement = 0;
      return { best: true, stop: false };
    }
    this.epochsWithoutImprovement += 1;
    return { best: false, stop: this.config !== null && this.epochsWithoutImprovement >= this.config.patience };
  }
}
