// Text for humans: numbers, durations, sparklines and the live progress lines. Pure functions.
import type { EpochEvent, Job, ProgressEvent } from '@unroll/protocol';

const SPARK = '▁▂▃▄▅▆▇█';

/** One character per value, scaled between the series' min and max (last `width` values). */
export function sparkline(values: number[], width = 40): string {
  const shown = values.filter(Number.isFinite).slice(-width);
  if (shown.length === 0) return '';
  const min = Math.min(...shown);
  const max = Math.max(...shown);
  const span = max - min;
  return shown.map((v) => SPARK[span === 0 ? 0 : Math.min(SPARK.length - 1, Math.floor(((v - min) / span) * SPARK.length))]).join('');
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

export function formatNumber(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '-';
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(2);
  return value.toFixed(digits);
}

export function formatRate(tokensPerSec: number): string {
  return tokensPerSec >= 1000 ? `${(tokensPerSec / 1000).toFixed(1)}k tok/s` : `${Math.round(tokensPerSec)} tok/s`;
}

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
}

/** What the follower knows so far about a running job. */
export interface FollowState {
  jobId: string;
  status: string;
  totalEpochs: number;
  lastEpoch: EpochEvent | null;
  lastProgress: ProgressEvent | null;
  trainLosses: number[];
}

/** The live block on a terminal: progress bar, the latest metrics, and the loss sparkline. */
export function renderLive(state: FollowState): string {
  const e = state.lastEpoch;
  const p = state.lastProgress;
  const doneEpochs = e?.epoch ?? 0;
  const inEpoch = p && p.epoch > doneEpochs && p.stepsInEpoch > 0 ? p.step / p.stepsInEpoch : 0;
  const fraction = state.totalEpochs > 0 ? (doneEpochs + inEpoch) / state.totalEpochs : 0;
  const head = `${state.jobId} ${state.status.padEnd(9)} ${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(3)}%  epoch ${doneEpochs}/${state.totalEpochs}`;
  const step = p && p.epoch > doneEpochs ? `  step ${p.step}/${p.stepsInEpoch} loss ${formatNumber(p.loss)}` : '';
  const lines = [head + step];
  if (e) {
    lines.push(epochSummary(e));
    lines.push(`loss ${sparkline(state.trainLosses)}`);
  } else if (p) {
    lines.push(`${formatRate(p.tokensPerSec)}`);
  }
  return lines.join('\n');
}

/** One epoch on one line: what the plain (non-TTY) output prints per epoch. */
export function epochSummary(e: EpochEvent, totalEpochs?: number): string {
  const parts = [
    `epoch ${e.epoch}${totalEpochs ? `/${totalEpochs}` : ''}`,
    `loss ${formatNumber(e.trainLoss)}`,
    e.valLoss !== null && e.valLoss !== undefined ? `val ${formatNumber(e.valLoss)}` : null,
    `grad ${formatNumber(e.gradNormPreClip, 3)}→${formatNumber(e.gradNormPostClip, 3)}`,
    e.clipRate !== null ? `clip ${Math.round(e.clipRate * 100)}%` : null,
    e.tokensPerSec !== null ? formatRate(e.tokensPerSec) : null,
    e.etaSeconds !== null ? `ETA ${formatDuration(e.etaSeconds)}` : null,
    e.nonFinite?.length ? `not finite: ${e.nonFinite.join(', ')}` : null,
    e.best ? 'best' : null,
  ];
  return parts.filter(Boolean).join('  ');
}

/** A row of `unroll jobs`. */
export function jobRow(job: Job): string {
  const metrics = job.metrics as { epoch?: number; trainLoss?: number } | null;
  const epoch = metrics?.epoch ?? job.progress?.epoch ?? 0;
  return [
    job.id.padEnd(26),
    job.status.padEnd(10),
    job.task.padEnd(15),
    `${epoch}/${job.spec.training.epochs}`.padEnd(10),
    formatNumber(metrics?.trainLoss).padEnd(10),
    job.createdAt,
  ].join(' ');
}

export const JOB_HEADER = ['ID'.padEnd(26), 'STATUS'.padEnd(10), 'TASK'.padEnd(15), 'EPOCH'.padEnd(10), 'LOSS'.padEnd(10), 'CREATED'].join(' ');
