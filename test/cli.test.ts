// The `unroll` command as a user runs it: a real child process against the real API and worker.
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RnnModel } from '@unroll/rnn';
import { REPO_ROOT } from './support/processes.ts';
import { smallCorpus } from './support/corpora.ts';
import { startService, type Service } from './support/service.ts';
import { sparkline, formatDuration } from '../apps/cli/src/format.ts';
import { resolveSettings } from '../apps/cli/src/settings.ts';

const BIN = join(REPO_ROOT, 'apps/cli/bin/unroll.mjs');
let service: Service;
let tmp: string;

beforeAll(async () => {
  service = await startService({ workers: 1 });
  tmp = await mkdtemp(join(tmpdir(), 'unroll-cli-'));
  await writeFile(join(tmp, 'corpus.txt'), smallCorpus());
});

afterAll(async () => {
  await service?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `unroll …` with stdout/stderr piped (not a TTY), so it prints plain lines. */
function unroll(args: string[], env: Record<string, string | undefined> = {}, onLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: tmp,
      env: { ...process.env, UNROLL_URL: service.baseUrl, UNROLL_API_KEY: service.apiKey, XDG_CONFIG_HOME: join(tmp, 'no-config'), ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout += `${line}\n`;
      onLine?.(line, child);
    });
    child.stderr!.on('data', (d) => (stderr += d));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('unroll (pure parts)', () => {
  it('draws a sparkline scaled between min and max', () => {
    expect(sparkline([3, 2, 1, 0])).toBe('█▆▃▁');
    expect(sparkline([1, 1, 1])).toBe('▁▁▁');
    expect(sparkline([])).toBe('');
    expect(formatDuration(75)).toBe('1m15s');
  });

  it('takes settings from flags, then environment, then the config file', async () => {
    const dir = join(tmp, 'cfg', 'unroll');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'config.json'), JSON.stringify({ url: 'http://file:1', apiKey: 'file-key' }));
    const env = { XDG_CONFIG_HOME: join(tmp, 'cfg') };
    expect(await resolveSettings({}, env)).toMatchObject({ url: 'http://file:1', apiKey: 'file-key' });
    expect(await resolveSettings({}, { ...env, UNROLL_URL: 'http://env:2', UNROLL_API_KEY: 'env-key' })).toMatchObject({ url: 'http://env:2', apiKey: 'env-key' });
    expect(await resolveSettings({ url: 'http://flag:3', apiKey: 'flag-key' }, { ...env, UNROLL_API_KEY: 'env-key' })).toMatchObject({ url: 'http://flag:3', apiKey: 'flag-key' });
    await expect(resolveSettings({}, { XDG_CONFIG_HOME: join(tmp, 'none') })).rejects.toThrow(/no API key/);
    await writeFile(join(dir, 'config.json'), '{"apiKey": 5}');
    await expect(resolveSettings({}, env)).rejects.toThrow(/apiKey must be a string/);
  });
});

describe('unroll (against the service)', () => {
  it('trains with plain progress lines, then lists, downloads and samples', async () => {
    const train = await unroll(['train', 'corpus.txt', '--hidden', '12', '--epochs', '3', '--batch-size', '4', '--seed', '3']);
    expect(train.code, train.stderr).toBe(0);
    const jobId = train.stdout.match(/created (job_\w+)/)![1];
    const epochLines = train.stdout.split('\n').filter((l) => /^epoch \d+\/3 /.test(l));
    expect(epochLines).toHaveLength(3);
    expect(epochLines[0]).toMatch(/loss \d+\.\d+ .*grad .*→.*clip \d+% .*tok\/s .*ETA /);
    expect(train.stdout).toMatch(new RegExp(`${jobId} succeeded`));
    expect(train.stdout).not.toMatch(/\u001b\[/); // no cursor control when not on a terminal

    const jobs = await unroll(['jobs', '--json']);
    expect(jobs.code).toBe(0);
    expect(JSON.parse(jobs.stdout).items.map((j: { id: string }) => j.id)).toContain(jobId);
    const table = await unroll(['jobs']);
    expect(table.stdout).toMatch(new RegExp(`${jobId}\\s+succeeded\\s+lm\\s+3/3`));

    const weights = await unroll(['weights', jobId, '-o', 'model.safetensors']);
    expect(weights.code, weights.stderr).toBe(0);
    const model = RnnModel.fromSafetensors(new Uint8Array(await readFile(join(tmp, 'model.safetensors'))));
    expect(model.spec.hiddenSize).toBe(12);

    const sample = await unroll(['sample', jobId, '--prime', 'the ', '--length', '40', '--json']);
    expect(sample.code, sample.stderr).toBe(0);
    expect(JSON.parse(sample.stdout).text.startsWith('the ')).toBe(true);
  });

  it('streams NDJSON events with --json, and watch replays a finished job', async () => {
    const train = await unroll(['--json', 'train', 'corpus.txt', '--hidden', '8', '--epochs', '2']);
    expect(train.code, train.stderr).toBe(0);
    const lines = train.stdout.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0].dataset.id).toMatch(/^ds_/);
    const jobId = lines[1].job.id;
    const events = lines.slice(2);
    expect(events.filter((m) => m.event.type === 'epoch').map((m) => m.event.epoch)).toEqual([1, 2]);
    expect(events.at(-1).event).toMatchObject({ type: 'status', status: 'succeeded' });

    const watch = await unroll(['watch', jobId, '--json']);
    expect(watch.code).toBe(0);
    expect(watch.stdout.trim().split('\n').map((l) => JSON.parse(l).id)).toEqual(events.map((m) => m.id));
  });

  it('Ctrl-C asks whether to cancel; yes cancels the job and exits 130', async () => {
    let interrupted = false;
    const run = await unroll(['train', 'corpus.txt', '--hidden', '32', '--epochs', '500', '--batch-size', '2'], {}, (line, child) => {
      if (!interrupted && /^status running/.test(line)) {
        interrupted = true;
        child.kill('SIGINT');
        // The question goes to stderr; the answer comes from stdin.
        setTimeout(() => child.stdin!.write('y\n'), 300);
      }
    });
    expect(interrupted).toBe(true);
    expect(run.stderr).toMatch(/Cancel job job_\w+\? \[y\/N\]/);
    expect(run.stdout).toMatch(/status cancelled/);
    expect(run.code).toBe(130);
  });

  it('Ctrl-C answered no detaches and leaves the job running', async () => {
    let jobId = '';
    const run = await unroll(['train', 'corpus.txt', '--hidden', '32', '--epochs', '500', '--batch-size', '2'], {}, (line, child) => {
      const created = line.match(/created (job_\w+)/);
      if (created) jobId = created[1];
      if (/^status running/.test(line)) {
        child.kill('SIGINT');
        setTimeout(() => child.stdin!.end('n\n'), 300);
      }
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/keeps running/);
    const cancel = await unroll(['cancel', jobId, '--json']);
    expect(cancel.code, cancel.stderr).toBe(0);
    expect(['running', 'cancelled']).toContain(JSON.parse(cancel.stdout).status);
  });

  it('explains bad input: flags checked before upload, API errors with their code, usage errors exit 2', async () => {
    const badFlag = await unroll(['train', 'corpus.txt', '--epochs', '0']);
    expect(badFlag.code).toBe(2);
    expect(badFlag.stderr).toMatch(/--epochs: Too small/);
    const notInt = await unroll(['train', 'corpus.txt', '--hidden', 'big']);
    expect(notInt.code).toBe(2);
    expect(notInt.stderr).toMatch(/--hidden.*expected an integer/);
    const missing = await unroll(['train', 'nope.txt']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/ENOENT.*nope\.txt/);
    const badKey = await unroll(['jobs'], { UNROLL_API_KEY: 'wrong-key-123' });
    expect(badKey.code).toBe(1);
    expect(badKey.stderr).toMatch(/unauthorized/);
    const notFound = await unroll(['--json', 'job', 'job_0000000000']);
    expect(notFound.code).toBe(1);
    expect(JSON.parse(notFound.stdout).error).toMatchObject({ status: 404, code: 'not_found' });
    const noKey = await unroll(['jobs'], { UNROLL_API_KEY: undefined });
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toMatch(/no API key/);
  });
});
