// `unroll train` on a real terminal (a pty), against the real API and worker: the live progress
// block must be drawn, redrawn in place, and leave the finished state on screen.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { REPO_ROOT } from './support/processes.ts';
import { smallCorpus } from './support/corpora.ts';
import { startService, type Service } from './support/service.ts';
import { replayTerminal, runOnTerminal } from './support/terminal.ts';

const BIN = join(REPO_ROOT, 'apps/cli/bin/unroll.mjs');
const EPOCHS = 12;
/** The live block's first line (format.ts renderLive): job, status, progress bar, percent, epoch. */
const LIVE_HEAD = /^(job_\w+) (\w+)\s+[█░]{20}\s+(\d+)%  epoch (\d+)\/(\d+)/;

let service: Service;
let tmp: string;

beforeAll(async () => {
  service = await startService({ workers: 1 });
  tmp = await mkdtemp(join(tmpdir(), 'unroll-cli-tty-'));
  await writeFile(join(tmp, 'corpus.txt'), smallCorpus());
});

afterAll(async () => {
  await service?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

it('unroll train on a terminal redraws one live block in place (epochs rising, loss sparkline) and ends on the finished state', async () => {
  const run = await runOnTerminal([process.execPath, BIN, 'train', 'corpus.txt', '--hidden', '16', '--epochs', String(EPOCHS), '--batch-size', '4', '--seed', '5'], {
    cwd: tmp,
    env: { ...process.env, UNROLL_URL: service.baseUrl, UNROLL_API_KEY: service.apiKey, XDG_CONFIG_HOME: join(tmp, 'no-config') },
  });
  expect(run.code, run.raw).toBe(0);

  // log-update's in-place redraw: cursor up and erase line.
  expect(run.raw).toMatch(/\u001b\[\d*A/);
  expect(run.raw).toContain('\u001b[2K');

  const { screen, frames } = replayTerminal(run.raw);
  const heads = (lines: string[]) => lines.map((l) => l.match(LIVE_HEAD)).filter((m) => m !== null);
  const liveFrames = frames.map(heads).filter((h) => h.length > 0);
  // Each epoch event redraws the block at least once.
  expect(liveFrames.length, screen.join('\n')).toBeGreaterThanOrEqual(EPOCHS);
  // In place: never two copies of the block on screen.
  for (const h of liveFrames) expect(h).toHaveLength(1);

  const shownEpochs = liveFrames.map((h) => Number(h[0][4]));
  for (let i = 1; i < shownEpochs.length; i++) expect(shownEpochs[i]).toBeGreaterThanOrEqual(shownEpochs[i - 1]);
  expect(new Set(shownEpochs).size).toBeGreaterThanOrEqual(3);
  expect(liveFrames.every((h) => Number(h[0][5]) === EPOCHS)).toBe(true);
  // Once an epoch is done the block shows its loss and the loss sparkline.
  expect(frames.some((f) => f.some((l) => /^epoch \d+  loss \d+\.\d+/.test(l)) && f.some((l) => /^loss [▁▂▃▄▅▆▇█]{2,}$/.test(l)))).toBe(true);

  // The final screen: the block frozen at the finished state, then the closing line.
  const [finalHead] = heads(screen);
  expect(heads(screen)).toHaveLength(1);
  const jobId = finalHead[1];
  expect(finalHead.slice(2)).toEqual(['succeeded', '100', String(EPOCHS), String(EPOCHS)]);
  expect(screen.at(-1)).toMatch(new RegExp(`^${jobId} succeeded after \\d+s$`));
  expect(screen.some((l) => /^loss [▁▂▃▄▅▆▇█]{2,}$/.test(l))).toBe(true);
  expect(screen.some((l) => /^completed: final loss \d+\.\d+/.test(l))).toBe(true);
  // Each epoch's line is kept above the block exactly once: the redraws erased only the block.
  const kept = screen.filter((l) => new RegExp(`^epoch \\d+/${EPOCHS}  loss \\d+\\.\\d+`).test(l)).map((l) => Number(l.split(/[ /]/)[1]));
  expect(kept).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
}, 30_000);
