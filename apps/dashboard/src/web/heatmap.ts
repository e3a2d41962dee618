// The per-time-step gradient profile over epochs on a canvas: one column per epoch, one row per
// step back in time, colour = log10 of the gradient norm reaching that step. A gradient that
// vanishes shows as a dark band at the bottom; one that explodes as a bright one.
import { h } from './dom.ts';

const MARGIN = { left: 48, bottom: 28, top: 8, right: 64 };

/** Viridis-like ramp: dark blue (small) → green → yellow (large). */
function color(t: number): string {
  const stops = [
    [68, 1, 84],
    [59, 82, 139],
    [33, 145, 140],
    [94, 201, 98],
    [253, 231, 37],
  ];
  const x = Math.max(0, Math.min(1, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((a, k) => Math.round(a + (stops[i + 1][k] - a) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

export class GradientHeatmap {
  readonly figure: HTMLElement;
  private readonly canvas: HTMLCanvasElement;
  private readonly summary: HTMLElement;
  private readonly columns: { epoch: number; profile: number[] }[] = [];
  private readonly observer: ResizeObserver;

  constructor() {
    this.canvas = h('canvas', { role: 'img', 'aria-label': 'Heatmap of the gradient norm per step back in time (rows) for each epoch (columns)' });
    this.summary = h('p', { class: 'hint', 'aria-live': 'polite' });
    this.figure = h(
      'figure',
      { class: 'chart heatmap', 'data-chart': 'Gradient through time', 'data-points': '0' },
      h('figcaption', {}, 'Gradient through time'),
      h('p', { class: 'hint' }, 'Rows: steps back in time (0 = newest, at the top); columns: epochs; colour: gradient norm, log scale.'),
      this.canvas,
      this.summary,
    );
    this.observer = new ResizeObserver(() => this.draw());
    this.observer.observe(this.figure);
  }

  add(epoch: number, profile: number[]): void {
    if (!Array.isArray(profile) || profile.length === 0) return;
    const at = this.columns.findIndex((c) => c.epoch === epoch);
    if (at >= 0) this.columns[at] = { epoch, profile };
    else this.columns.push({ epoch, profile });
    this.figure.setAttribute('data-points', String(this.columns.length));
    const first = profile[0];
    const last = profile[profile.length - 1];
    const ratio = first > 0 ? last / first : NaN;
    this.summary.textContent = Number.isFinite(ratio)
      ? `Epoch ${epoch}: the gradient ${profile.length - 1} steps back is ${ratio < 1 ? `${(1 / ratio).toPrecision(3)}× smaller` : `${ratio.toPrecision(3)}× larger`} than at the newest step${ratio < 1e-3 ? ' — vanishing' : ratio > 1e3 ? ' — exploding' : ''}.`
      : '';
    this.draw();
  }

  draw(): void {
    const width = Math.max(260, this.figure.clientWidth || 320);
    const height = Math.round(Math.min(260, Math.max(170, width * 0.5)));
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = width * dpr;
    this.canvas.height = height * dpr;
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${height}px`;
    const ctx = this.canvas.getContext('2d');
    if (!ctx) return;
    ctx.scale(dpr, dpr);
    ctx.clearRect(0, 0, width, height);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#444';
    if (this.columns.length === 0) {
      ctx.fillText('waiting for the first epoch…', MARGIN.left, height / 2);
      return;
    }
    const rows = Math.max(...this.columns.map((c) => c.profile.length));
    const logs = this.columns.flatMap((c) => c.profile.filter((v) => v > 0).map(Math.log10));
    const lo = Math.min(...logs);
    const hi = Math.max(...logs);
    const span = hi - lo || 1;
    const plotW = width - MARGIN.left - MARGIN.right;
    const plotH = height - MARGIN.top - MARGIN.bottom;
    const cw = plotW / this.columns.length;
    const rh = plotH / rows;
    this.columns.forEach((col, ci) => {
      col.profile.forEach((v, k) => {
        ctx.fillStyle = v > 0 ? color((Math.log10(v) - lo) / span) : '#000';
        // Row 0 (the newest step) at the top; further back in time goes down.
        ctx.fillRect(MARGIN.left + ci * cw, MARGIN.top + k * rh, Math.ceil(cw), Math.ceil(rh));
      });
    });
    ctx.fillStyle = '#444';
    ctx.fillText('0', MARGIN.left - 14, MARGIN.top + 10);
    ctx.fillText(String(rows - 1), MARGIN.left - 24, MARGIN.top + plotH);
    ctx.fillText(`epoch ${this.columns[0].epoch}`, MARGIN.left, height - 8);
    const lastLabel = `epoch ${this.columns.at(-1)!.epoch}`;
    ctx.fillText(lastLabel, MARGIN.left + plotW - ctx.measureText(lastLabel).width, height - 8);
    // Colour scale.
    const sx = width - MARGIN.right + 12;
    for (let i = 0; i < plotH; i++) {
      ctx.fillStyle = color(1 - i / plotH);
      ctx.fillRect(sx, MARGIN.top + i, 12, 1);
    }
    ctx.fillStyle = '#444';
    ctx.fillText(`1e${hi.toFixed(1)}`, sx + 14, MARGIN.top + 10);
    ctx.fillText(`1e${lo.toFixed(1)}`, sx + 14, MARGIN.top + plotH);
  }

  destroy(): void {
    this.observer.disconnect();
  }
}
