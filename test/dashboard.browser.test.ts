// The dashboard in headless Chromium (Debian's, via playwright-core) against the real API and
// worker: sign in, upload a corpus, start a job, watch the loss chart grow live, download weights.
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RnnModel } from '@unroll/rnn';
import { UnrollClient } from '../packages/client/src/index.ts';
import { chromiumAvailable, CHROMIUM_PATH, launchChromium, type Browser, type Page } from '../apps/dashboard/test-support/chromium.ts';
import { REPO_ROOT } from './support/processes.ts';
import { smallCorpus } from './support/corpora.ts';
import { startService, type Service } from './support/service.ts';

const ARTIFACTS = join(REPO_ROOT, 'test-artifacts');
const available = chromiumAvailable();
if (!available) console.warn(`dashboard.browser.test.ts: SKIPPED — ${CHROMIUM_PATH} is missing (apt-get install -y chromium)`);

// Until apps/api/src/app.ts registers the dashboard itself, the test serves it through an entry
// that builds the same app and adds the plugin.
const apiRegistersDashboard = readFileSync(join(REPO_ROOT, 'apps/api/src/app.ts'), 'utf8').includes('dashboardPlugin');
const API_ENTRY = apiRegistersDashboard ? 'apps/api/src/server.ts' : 'apps/dashboard/test-support/api-with-dashboard.ts';

describe.skipIf(!available)('dashboard in Chromium', () => {
  let service: Service;
  let browser: Browser;
  let page: Page;
  let tmp: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [service, browser, tmp] = await Promise.all([startService({ workers: 1, apiEntry: API_ENTRY }), launchChromium(), mkdtemp(join(tmpdir(), 'unroll-browser-'))]);
    await mkdir(ARTIFACTS, { recursive: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    page.on('pageerror', (err) => pageErrors.push(err.message));
  });

  afterAll(async () => {
    await browser?.close();
    await service?.stop();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('serves the page at / to browsers and keeps JSON for API clients', async () => {
    const html = await fetch(`${service.baseUrl}/`, { headers: { accept: 'text/html' } });
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toContain('/dashboard/app.js');
    const asset = await fetch(`${service.baseUrl}/dashboard/app.js`);
    expect(asset.status).toBe(200);
  });

  it('refuses a wrong key, then signs in', async () => {
    await page.goto(`${service.baseUrl}/`);
    await page.getByLabel('API key').fill('definitely-not-the-key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.locator('#api-key-error').textContent()).toMatch(/not accepted/);
    await page.getByLabel('API key').fill(service.apiKey);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: '1. Upload a dataset' }).waitFor();
    expect(await page.evaluate(() => sessionStorage.getItem('unroll.apiKey'))).toBe(service.apiKey);
  });

  it('uploads a corpus and validates the job form with the shared schema', async () => {
    const corpus = join(tmp, 'tiny-shakespeare.txt');
    await writeFile(corpus, smallCorpus(300));
    await page.getByLabel('Dataset file').setInputFiles(corpus);
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.locator('#upload-result').textContent()).toMatch(/Uploaded tiny-shakespeare\.txt as ds_/);
    expect(await page.getByLabel('Dataset', { exact: true }).inputValue()).toMatch(/^ds_/);
    expect(await page.getByLabel('Task').inputValue()).toBe('lm');

    // Invalid content: the API's error, with its line, shown to the user.
    const bad = join(tmp, 'broken.json');
    await writeFile(bad, '{"task": "regression",\n "sequences": [oops]}');
    await page.getByLabel('Dataset file').setInputFiles(bad);
    await page.getByRole('button', { name: 'Upload' }).click();
    await expect.poll(() => page.locator('#upload-result').textContent()).toMatch(/Upload failed: .*\(line 2/);

    // Out of bounds: rejected in the browser, next to the field, before any request.
    await page.getByLabel('Epochs').fill('5000');
    await page.getByRole('button', { name: 'Start training' }).click();
    await expect.poll(() => page.getByLabel('Epochs').getAttribute('aria-invalid')).toBe('true');
    expect(page.url()).not.toMatch(/#\/jobs\//);
  });

  it('starts a job and draws the loss chart live, epoch by epoch', async () => {
    const epochs = 20;
    await page.getByLabel('Hidden size').fill('48');
    await page.getByLabel('Epochs').fill(String(epochs));
    await page.getByLabel('Batch size').fill('4');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.waitForURL(/#\/jobs\/job_/);

    // Sample the chart while the job runs: it must gain points before the job is over.
    const seenWhileRunning = new Set<number>();
    const deadline = Date.now() + 120_000;
    let status = '';
    let points = 0;
    while (Date.now() < deadline) {
      [status, points] = await page.evaluate(() => [
        document.querySelector('#job-status')?.getAttribute('data-status') ?? '',
        Number(document.querySelector('figure[data-chart="Loss"]')?.getAttribute('data-points') ?? 0),
      ] as [string, number]);
      if (status === 'running' && points > 0) seenWhileRunning.add(points);
      if (['succeeded', 'failed', 'cancelled'].includes(status)) break;
      await page.waitForTimeout(40);
    }
    expect(status).toBe('succeeded');
    expect(points).toBe(epochs);
    expect(seenWhileRunning.size, `point counts seen while running: ${[...seenWhileRunning]}`).toBeGreaterThanOrEqual(2);
    for (const chart of ['Gradient norm', 'Learning rate', 'Per-parameter gradient norms', 'Gradient through time']) {
      expect(await page.locator(`figure[data-chart="${chart}"]`).getAttribute('data-points'), chart).toBe(String(epochs));
    }
  });

  it('downloads the weights and saves a screenshot', async () => {
    const jobId = page.url().match(/#\/jobs\/(job_\w+)/)![1];
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download weights (.safetensors)' }).click()]);
    expect(download.suggestedFilename()).toBe(`${jobId}-final.safetensors`);
    const file = join(tmp, 'model.safetensors');
    await download.saveAs(file);
    const bytes = new Uint8Array(await readFile(file));
    expect(RnnModel.fromSafetensors(bytes).spec.hiddenSize).toBe(48);
    const viaSdk = await new UnrollClient({ baseUrl: service.baseUrl, apiKey: service.apiKey }).downloadWeights(jobId);
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(viaSdk))).toBe(0);

    await page.getByLabel('Prime text').fill('the ');
    await page.getByRole('button', { name: 'Generate' }).click();
    await expect.poll(() => page.getByLabel('Generated text').textContent()).toMatch(/^the /);

    await page.screenshot({ path: join(ARTIFACTS, 'dashboard.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(overflow, 'no horizontal scrolling at phone width').toBeLessThanOrEqual(0);
    await page.screenshot({ path: join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await page.setViewportSize({ width: 1280, height: 900 });
  });

  it('lists jobs with their live status', async () => {
    const jobId = page.url().match(/#\/jobs\/(job_\w+)/)![1];
    await page.getByRole('link', { name: '← All jobs' }).click();
    const row = page.locator(`tr[data-job-id="${jobId}"]`);
    await expect.poll(() => row.locator('[data-status]').getAttribute('data-status')).toBe('succeeded');
    // A job started elsewhere (the SDK) shows up and moves through its statuses without a reload.
    const client = new UnrollClient({ baseUrl: service.baseUrl, apiKey: service.apiKey });
    const other = await client.createJob({ inline: { format: 'text', content: smallCorpus(40) }, task: 'lm', model: { hiddenSize: 8 }, training: { epochs: 2 } });
    const otherStatus = page.locator(`tr[data-job-id="${other.id}"] [data-status]`);
    await expect.poll(() => otherStatus.getAttribute('data-status'), { timeout: 30_000 }).toBe('succeeded');
  });

  it('cancels a running job from its page', async () => {
    const client = new UnrollClient({ baseUrl: service.baseUrl, apiKey: service.apiKey });
    const job = await client.createJob({ inline: { format: 'text', content: smallCorpus(400) }, task: 'lm', model: { hiddenSize: 32 }, training: { epochs: 500, batchSize: 2 } });
    await page.goto(`${service.baseUrl}/#/jobs/${job.id}`);
    await expect.poll(() => page.locator('#job-status').getAttribute('data-status')).toBe('running');
    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Cancel job' }).click();
    await expect.poll(() => page.locator('#job-status').getAttribute('data-status'), { timeout: 30_000 }).toBe('cancelled');
    expect(await page.getByRole('button', { name: 'Cancel job' }).isHidden()).toBe(true);
    expect(pageErrors).toEqual([]);
  });
});
