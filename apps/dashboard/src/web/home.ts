// The start page: upload a dataset, start a job, and the job list with live status.
import { UnrollApiError, type UnrollClient } from '@unroll/client';
import type { Dataset, Job } from '@unroll/protocol';
import { formatNumber, h, toast } from './dom.ts';
import { createJobForm } from './job-form.ts';

const POLL_MS = 1500;

/** Time of day for today's jobs, the date otherwise. */
function shortTime(iso: string): string {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : d.toLocaleDateString();
}

export function homeView(client: UnrollClient, navigate: (hash: string) => void): { element: HTMLElement; dispose: () => void } {
  let datasets: Dataset[] = [];
  const jobForm = createJobForm(async (request) => {
    try {
      const job = await client.createJob(request);
      toast(`Job ${job.id} queued`);
      navigate(`#/jobs/${job.id}`);
    } catch (err) {
      if (err instanceof UnrollApiError) jobForm.showError(err.param, err.message);
      else jobForm.showError(undefined, (err as Error).message);
    }
  });

  async function refreshDatasets(selectId?: string): Promise<void> {
    datasets = (await client.listDatasets({ limit: 100 })).items;
    jobForm.setDatasets(datasets, selectId);
  }

  // Upload
  const fileInput = h('input', { id: 'dataset-file', type: 'file', accept: '.txt,.text,.md,.json,.csv,text/plain,application/json,text/csv', required: true, 'aria-describedby': 'dataset-file-hint upload-result' });
  const uploadButton = h('button', { type: 'submit' }, 'Upload');
  const uploadResult = h('p', { id: 'upload-result', class: 'hint', role: 'status' });
  const uploadForm = h(
    'form',
    {
      class: 'upload',
      'aria-label': 'Upload a dataset',
      onsubmit: async (event: Event) => {
        event.preventDefault();
        const file = fileInput.files?.[0];
        if (!file) {
          uploadResult.textContent = 'Choose a file first.';
          return;
        }
        uploadButton.disabled = true;
        uploadResult.textContent = `Uploading ${file.name}…`;
        try {
          const ds = await client.uploadDataset(file, { name: file.name });
          const stats = Object.entries(ds.stats).filter(([, v]) => typeof v === 'number').map(([k, v]) => `${k} ${v}`).join(', ');
          const uploaded = `Uploaded ${ds.name ?? ds.id} as ${ds.id} (${stats}).`;
          // announced once the new dataset is selected in the job form, so "uploaded" means usable
          try {
            await refreshDatasets(ds.id);
            uploadResult.textContent = uploaded;
          } catch (err) {
            uploadResult.textContent = `${uploaded} The dataset list could not be refreshed: ${(err as Error).message}`;
          }
        } catch (err) {
          const e = err as UnrollApiError;
          uploadResult.textContent = `Upload failed: ${e.message}${e.line ? ` (line ${e.line}${e.column ? `, column ${e.column}` : ''})` : ''}`;
        } finally {
          uploadButton.disabled = false;
        }
      },
    },
    h('div', { class: 'field' }, h('label', { for: 'dataset-file' }, 'Dataset file'), fileInput, h('span', { class: 'hint', id: 'dataset-file-hint' }, '.txt corpus (language model), .json sequences or .csv time series')),
    uploadButton,
    uploadResult,
  );

  // Job list
  const tbody = h('tbody');
  const table = h(
    'table',
    { class: 'jobs', 'aria-label': 'Jobs' },
    h('thead', {}, h('tr', {}, ...['Job', 'Status', 'Task', 'Epoch', 'Loss', 'Created'].map((c) => h('th', { scope: 'col' }, c)))),
    tbody,
  );
  const empty = h('p', { class: 'hint' }, 'No jobs yet.');

  function renderJobs(jobs: Job[]): void {
    empty.hidden = jobs.length > 0;
    tbody.replaceChildren(
      ...jobs.map((job) => {
        const metrics = job.metrics as { epoch?: number; trainLoss?: number } | null;
        const epoch = metrics?.epoch ?? 0;
        return h(
          'tr',
          { 'data-job-id': job.id },
          h('td', {}, h('a', { href: `#/jobs/${job.id}` }, job.id)),
          h('td', {}, h('span', { class: `badge ${job.status}`, 'data-status': job.status }, job.status)),
          h('td', {}, job.task),
          h('td', {}, `${epoch}/${job.spec.training.epochs}`),
          h('td', {}, formatNumber(metrics?.trainLoss)),
          h('td', {}, h('time', { datetime: job.createdAt, title: new Date(job.createdAt).toLocaleString() }, shortTime(job.createdAt))),
        );
      }),
    );
  }

  let timer = 0;
  let disposed = false;
  async function poll(): Promise<void> {
    try {
      renderJobs((await client.listJobs({ limit: 50 })).items);
    } catch (err) {
      if (!(err instanceof UnrollApiError && err.status === 0)) toast(`Could not list jobs: ${(err as Error).message}`, 'error');
    }
    if (!disposed) timer = window.setTimeout(poll, POLL_MS);
  }
  void poll();
  void refreshDatasets().catch((err: Error) => toast(`Could not list datasets: ${err.message}`, 'error'));

  const element = h(
    'div',
    { class: 'home' },
    h('section', { class: 'card upload-card', 'aria-labelledby': 'upload-title' }, h('h2', { id: 'upload-title' }, '1. Upload a dataset'), uploadForm),
    h('section', { class: 'card form-card', 'aria-labelledby': 'new-job-title' }, h('h2', { id: 'new-job-title' }, '2. Start a training job'), jobForm.element),
    h('section', { class: 'card jobs-card', 'aria-labelledby': 'jobs-title' }, h('h2', { id: 'jobs-title' }, 'Jobs'), h('div', { class: 'table-scroll' }, table), empty),
  );
  return {
    element,
    dispose() {
      disposed = true;
      window.clearTimeout(timer);
    },
  };
}
