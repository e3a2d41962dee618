// Line charts with uPlot: fast on thousands of points, resized with their container.
import uPlot from 'uplot';
import { h } from './dom.ts';

const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#17becf', '#7f7f7f'];

export interface SeriesSpec {
  label: string;
  color?: string;
  dash?: number[];
}

/** A titled chart whose x axis is the epoch; `data-points` on the figure counts the epochs drawn. */
export class EpochChart {
  readonly figure: HTMLElement;
  private readonly plotBox: HTMLElement;
  private plot: uPlot | null = null;
  private readonly x: number[] = [];
  private readonly ys: (number | null)[][];
  private readonly observer: ResizeObserver;

  constructor(
    readonly title: string,
    readonly series: SeriesSpec[],
    private readonly options: { logY?: boolean; yLabel?: string; description: string },
  ) {
    this.ys = series.map(() => []);
    this.plotBox = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: ${options.description}` });
    this.figure = h('figure', { class: 'chart', 'data-chart': title, 'data-points': '0' }, h('figcaption', {}, title), this.plotBox);
    this.observer = new ResizeObserver(() => this.plot?.setSize(this.size()));
    this.observer.observe(this.plotBox);
  }

  private size(): { width: number; height: number } {
    const width = Math.max(260, Math.floor(this.plotBox.clientWidth || 320));
    return { width, height: Math.round(Math.min(260, Math.max(170, width * 0.5))) };
  }

  /** Adds (or replaces) the values of one epoch. */
  add(epoch: number, values: (number | null | undefined)[]): void {
    const clean = values.map((v) => (typeof v === 'number' && Number.isFinite(v) && (!this.options.logY || v > 0) ? v : null));
    const at = this.x.indexOf(epoch);
    if (at >= 0) this.ys.forEach((y, i) => (y[at] = clean[i]));
    else {
      this.x.push(epoch);
      this.ys.forEach((y, i) => y.push(clean[i]));
    }
    this.figure.setAttribute('data-points', String(this.x.length));
    this.draw();
  }

  private draw(): void {
    const data = [this.x, ...this.ys] as uPlot.AlignedData;
    if (this.plot) {
      this.plot.setData(data);
      return;
    }
    if (!this.plotBox.isConnected) return; // drawn once attached (next add)
    const opts: uPlot.Options = {
      ...this.size(),
      scales: { x: { time: false }, y: this.options.logY ? { distr: 3 } : {} },
      axes: [
        // Whole epochs only.
        { label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500], values: (_u: uPlot, splits: number[]) => splits.map((v) => (Number.isInteger(v) ? String(v) : '')) },
        // Three significant digits: learning rates like 0.0005 stay distinct.
        { label: this.options.yLabel, size: 64, values: (_u: uPlot, splits: number[]) => splits.map((v) => (v === null ? '' : String(Number(v.toPrecision(3))))) },
      ],
      legend: { live: true },
      series: [
        { label: 'epoch' },
        ...this.series.map((s, i) => ({ label: s.label, stroke: s.color ?? PALETTE[i % PALETTE.length], width: 2, dash: s.dash, spanGaps: true, points: { show: this.x.length < 60 } })),
      ],
    };
    this.plot = new uPlot(opts, data, this.plotBox);
  }

  /** Call after the figure is in the document, so the first draw knows its width. */
  attached(): void {
    this.draw();
  }

  destroy(): void {
    this.observer.disconnect();
    this.plot?.destroy();
  }
}
