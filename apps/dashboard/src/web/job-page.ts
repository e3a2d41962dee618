// One job, live: status, progress, charts of every epoch metric, the gradient-through-time
// heatmap, downloads and (for language models) a sampling box.
import { UnrollApiError, type UnrollClient } from '@unroll/client';
import { isTerminal, type EpochEvent, type Job, type JobEvent, type ProgressEvent } from '@unroll/protocol';
import { EpochChart } from './charts.ts';
import { clear, formatDuration, formatNumber, h, toast } from './dom.ts';
import { GradientHeatmap } from './heatmap.ts';

export function jobView(client: UnrollClient, jobId: string): { element: HTMLElement; dispose: () => void } {
  const abort = new AbortController();
  const status = h('span', { class: 'badge', 'data-status': '', id: 'job-status' }, '…');
  const progress = h('progress', { id: 'job-progress', max: '1', value: '0', 'aria-label': 'Training progress' });
  const progressText = h('span', { class: 'hint', 'aria-live': 'off' });
  const latest = h('dl', { class: 'latest', 'aria-label': 'Latest epoch' });
  const summary = h('dl', { class: 'summary' });
  const errorBox = h('p', { class: 'form-error', role: 'alert' });
  const cancelButton = h('button', { type: 'button', class: 'danger', hidden: true }, 'Cancel job');

  const lossChart = new EpochChart('Loss', [{ label: 'train' }, { label: 'validation', dash: [6, 4] }], { yLabel: 'loss', description: 'training and validation loss per epoch' });
  const gradChart = new EpochChart('Gradient norm', [{ label: 'before clipping' }, { label: 'after clipping', dash: [6, 4] }], {
    logY: true,
    yLabel: '‖g‖',
    description: 'global gradient norm before and after clipping, per epoch (log scale)',
  });
  const lrChart = new EpochChart('Learning rate', [{ label: 'lr' }], { yLabel: 'lr', description: 'learning rate per epoch' });
  let paramChart: EpochChart | null = null;
  const paramSlot = h('div', { class: 'slot' });
  const heatmap = new GradientHeatmap();

  // Downloads
  const downloads = h('div', { class: 'downloads' });
  const checkpointSelect = h('select', { id: 'checkpoint-select' });
  const checkpointRow = h(
    'div',
    { class: 'field inline', hidden: true },
    h('label', { for: 'checkpoint-select' }, 'Checkpoint'),
    checkpointSelect,
    h('button', { type: 'button', onclick: () => void download({ checkpoint: checkpointSelect.value === 'best' ? 'best' : Number(checkpointSelect.value) }) }, 'Download checkpoint'),
  );

  async function download(options: { format?: 'safetensors' | 'json'; checkpoint?: 'best' | number }): Promise<void> {
    try {
      const bytes = await client.downloadWeights(jobId, options);
      const format = options.format ?? 'safetensors';
      const which = options.checkpoint === undefined ? 'final' : options.checkpoint === 'best' ? 'best' : `epoch-${options.checkpoint}`;
      const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: format === 'json' ? 'application/json' : 'application/octet-stream' });
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `${jobId}-${which}.${format}` });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      toast(`Download failed: ${(err as Error).message}`, 'error');
    }
  }

  // Sampling (language models)
  const primeInput = h('textarea', { id: 'sample-prime', rows: '2' });
  const lengthInput = h('input', { id: 'sample-length', type: 'number', min: '1', max: '10000', value: '200' });
  const temperatureInput = h('input', { id: 'sample-temperature', type: 'number', min: '0.05', max: '10', step: '0.05', value: '0.8' });
  const sampleOutput = h('pre', { class: 'sample-output', 'aria-live': 'polite', 'aria-label': 'Generated text' });
  const sampleButton = h('button', { type: 'submit', class: 'primary' }, 'Generate');
  const sampleSection = h(
    'section',
    { class: 'card wide', 'aria-labelledby': 'sample-title', hidden: true },
    h('h2', { id: 'sample-title' }, 'Sample text'),
    h(
      'form',
      {
        class: 'sample',
        onsubmit: async (event: Event) => {
          event.preventDefault();
          sampleButton.disabled = true;
          try {
            const { text } = await client.sample(jobId, { prime: primeInput.value, length: Number(lengthInput.value), temperature: Number(temperatureInput.value), seed: Math.floor(Math.random() * 1e9) });
            sampleOutput.textContent = text;
          } catch (err) {
            sampleOutput.textContent = `Error: ${(err as Error).message}`;
          } finally {
            sampleButton.disabled = false;
          }
        },
      },
      h('div', { class: 'field' }, h('label', { for: 'sample-prime' }, 'Prime text'), primeInput),
      h('div', { class: 'field inline' }, h('label', { for: 'sample-length' }, 'Length'), lengthInput, h('label', { for: 'sample-temperature' }, 'Temperature'), temperatureInput),
      sampleButton,
    ),
    sampleOutput,
  );

  let job: Job | null = null;
  let lastEpoch: EpochEvent | null = null;

  function renderJob(j: Job): void {
    job = j;
    status.textContent = j.status;
    status.className = `badge ${j.status}`;
    status.setAttribute('data-status', j.status);
    cancelButton.hidden = isTerminal(j.status);
    const t = j.spec.training;
    const rows: [string, string][] = [
      ['Task', j.task],
      ['Dataset', j.datasetId],
      ['Model', `hidden ${j.spec.model.hiddenSize}, ${j.spec.model.activation}, init ${j.spec.model.init.scheme}`],
      ['Training', `${t.epochs} epochs, batch ${t.batchSize}, ${t.bptt.mode === 'full' ? 'full BPTT' : `BPTT(${t.bptt.k1}, ${t.bptt.k2})`}`],
      ['Optimizer', `${t.optimizer.name}, lr ${t.optimizer.lr}, clip ${t.clip.mode === 'norm' ? `norm ${t.clip.maxNorm}` : t.clip.mode}`],
      ['Created', new Date(j.createdAt).toLocaleString()],
    ];
    summary.replaceChildren(...rows.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
    errorBox.textContent = j.error ? `${j.error.code}: ${j.error.message}` : '';
    sampleSection.hidden = !(j.task === 'lm' && j.status === 'succeeded');
    void refreshDownloads();
  }

  async function refreshDownloads(): Promise<void> {
    if (!job) return;
    clear(downloads);
    if (job.status === 'succeeded') {
      downloads.append(
        h('button', { type: 'button', class: 'primary', onclick: () => void download({}) }, 'Download weights (.safetensors)'),
        h('button', { type: 'button', onclick: () => void download({ format: 'json' }) }, 'Download weights (.json)'),
      );
    }
    try {
      const checkpoints = await client.listCheckpoints(jobId);
      checkpointRow.hidden = checkpoints.length === 0;
      checkpointSelect.replaceChildren(
        h('option', { value: 'best' }, 'best'),
        ...checkpoints.map((c) => h('option', { value: String(c.epoch) }, `epoch ${c.epoch} (${Math.round(c.bytes / 1024)} KiB)`)),
      );
    } catch {
      checkpointRow.hidden = true;
    }
    if (job.status !== 'succeeded' && checkpointRow.hidden) downloads.append(h('p', { class: 'hint' }, 'Weights can be downloaded once the job has finished.'));
  }

  function showProgress(epochsDone: number, p: ProgressEvent | null): void {
    const total = job?.spec.training.epochs ?? 1;
    const inEpoch = p && p.epoch > epochsDone && p.stepsInEpoch > 0 ? p.step / p.stepsInEpoch : 0;
    progress.max = total;
    progress.value = Math.min(total, epochsDone + inEpoch);
    progressText.textContent = `epoch ${epochsDone}/${total}${p && inEpoch > 0 ? ` · step ${p.step}/${p.stepsInEpoch}, loss ${formatNumber(p.loss)}` : ''}`;
  }

  function onEpoch(e: EpochEvent): void {
    lastEpoch = e;
    lossChart.add(e.epoch, [e.trainLoss, e.valLoss]);
    gradChart.add(e.epoch, [e.gradNormPreClip, e.gradNormPostClip]);
    lrChart.add(e.epoch, [e.lr]);
    const names = Object.keys(e.paramGradNorms ?? {});
    if (!paramChart && names.length > 0) {
      paramChart = new EpochChart('Per-parameter gradient norms', names.map((label) => ({ label })), { logY: true, yLabel: '‖g‖', description: `gradient norm of each parameter (${names.join(', ')}) per epoch, log scale` });
      paramSlot.replaceChildren(paramChart.figure);
      paramChart.attached();
    }
    paramChart?.add(e.epoch, paramChart.series.map((s) => e.paramGradNorms[s.label]));
    // A null entry overflowed (listed in e.nonFinite): drawn as the largest value, i.e. exploding.
    heatmap.add(e.epoch, e.timeProfile.map((v) => v ?? Number.MAX_VALUE));
    const items: [string, string][] = [
      ['Loss', formatNumber(e.trainLoss)],
      ['Validation', formatNumber(e.valLoss)],
      ['Grad norm', `${formatNumber(e.gradNormPreClip, 3)} → ${formatNumber(e.gradNormPostClip, 3)}`],
      ['Clipped', e.clipRate === null ? '—' : `${Math.round(e.clipRate * 100)}%`],
      ['‖W_hh‖₂', formatNumber(e.whhSpectralNorm, 3)],
      ['Saturation', e.saturation === null ? '—' : `${Math.round(e.saturation * 100)}%`],
      ['Tokens/s', e.tokensPerSec === null ? '—' : Math.round(e.tokensPerSec).toLocaleString()],
      ['ETA', e.etaSeconds === null ? '—' : formatDuration(e.etaSeconds)],
      ...(e.nonFinite?.length ? [['Not finite', e.nonFinite.join(', ')] as [string, string]] : []),
    ];
    latest.replaceChildren(...items.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))));
    showProgress(e.epoch, null);
  }

  async function onEvent(event: JobEvent): Promise<void> {
    switch (event.type) {
      case 'epoch':
        onEpoch(event);
        break;
      case 'progress':
        showProgress(lastEpoch?.epoch ?? 0, event);
        break;
      case 'status':
        if (job) renderJob({ ...job, status: event.status });
        if (isTerminal(event.status)) renderJob(await client.getJob(jobId));
        break;
      case 'checkpoint':
        void refreshDownloads();
        break;
      case 'failed':
        errorBox.textContent = `${event.code}: ${event.message}`;
        break;
      case 'completed':
        break;
    }
  }

  async function follow(): Promise<void> {
    try {
      renderJob(await client.getJob(jobId));
      for await (const message of client.watch(jobId, { signal: abort.signal })) await onEvent(message.event);
    } catch (err) {
      if (abort.signal.aborted) return;
      errorBox.textContent = err instanceof UnrollApiError && err.status === 404 ? `Job ${jobId} not found.` : `Live updates stopped: ${(err as Error).message}`;
    }
  }

  cancelButton.addEventListener('click', async () => {
    if (!window.confirm(`Cancel job ${jobId}?`)) return;
    try {
      renderJob(await client.cancelJob(jobId));
    } catch (err) {
      toast(`Cancel failed: ${(err as Error).message}`, 'error');
    }
  });

  const element = h(
    'div',
    { class: 'job-page' },
    h(
      'section',
      { class: 'card wide', 'aria-labelledby': 'job-title' },
      h('p', {}, h('a', { href: '#/' }, '← All jobs')),
      h('h1', { id: 'job-title' }, 'Job ', h('code', {}, jobId), ' ', status),
      h('div', { class: 'progress-row' }, progress, progressText),
      errorBox,
      summary,
      latest,
      cancelButton,
    ),
    h('section', { class: 'charts', 'aria-label': 'Training charts' }, lossChart.figure, gradChart.figure, paramSlot, lrChart.figure, heatmap.figure),
    h('section', { class: 'card wide', 'aria-labelledby': 'downloads-title' }, h('h2', { id: 'downloads-title' }, 'Weights'), downloads, checkpointRow),
    sampleSection,
  );
  // uPlot measures its container: draw once the page is in the document.
  queueMicrotask(() => {
    lossChart.attached();
    gradChart.attached();
    lrChart.attached();
    heatmap.draw();
  });
  void follow();
  return {
    element,
    dispose() {
      abort.abort();
      for (const c of [lossChart, gradChart, lrChart, paramChart]) c?.destroy();
      heatmap.destroy();
    },
  };
}
