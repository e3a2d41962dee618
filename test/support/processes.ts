// Real child processes for end-to-end suites: `node --import tsx <entry>` with prefixed, captured
// output, readiness waits, and a teardown that always kills what was started (even on failure).
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ManagedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Every output line so far, prefixed with `[name]`. */
  log(): string;
  /** Resolves with the first output line (past or future) matching `pattern`. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM (or `signal`), then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<void>;
}

export interface SpawnOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Echo output to this process's stderr as it arrives (default: env UNROLL_TEST_ECHO === '1'). */
  echo?: boolean;
}

/** Starts `node --import tsx <entry>` (entry relative to the repository root). */
export function spawnTs(name: string, entry: string, options: SpawnOptions = {}): ManagedProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: options.cwd ?? REPO_ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return manage(name, child, options.echo ?? process.env.UNROLL_TEST_ECHO === '1');
}

function manage(name: string, child: ChildProcess, echo: boolean): ManagedProcess {
  const lines: string[] = [];
  const waiters = new Set<{ pattern: RegExp; resolve: (m: RegExpMatchArray) => void }>();
  const onLine = (line: string) => {
    lines.push(`[${name}] ${line}`);
    if (echo) process.stderr.write(`[${name}] ${line}\n`);
    for (const w of waiters) {
      const m = line.match(w.pattern);
      if (m) {
        waiters.delete(w);
        w.resolve(m);
      }
    }
  };
  for (const stream of [child.stdout, child.stderr]) {
    if (stream) createInterface({ input: stream }).on('line', onLine);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (err) => {
      onLine(`spawn error: ${err.message}`);
      resolve({ code: null, signal: null });
    });
  });
  const isRunning = () => child.exitCode === null && child.signalCode === null;

  return {
    name,
    child,
    exited,
    log: () => lines.join('\n'),
    waitForLine(pattern, timeoutMs = 30_000) {
      for (const line of lines) {
        const m = line.slice(name.length + 3).match(pattern);
        if (m) return Promise.resolve(m);
      }
      return new Promise((resolve, reject) => {
        const waiter = { pattern, resolve: (m: RegExpMatchArray) => { clearTimeout(timer); resolve(m); } };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: no output line matching ${pattern} within ${timeoutMs} ms\n${lines.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then(({ code, signal }) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name} exited (code ${code}, signal ${signal}) before printing ${pattern}\n${lines.slice(-40).join('\n')}`));
        });
      });
    },
    async stop(signal = 'SIGTERM', graceMs = 10_000) {
      if (!isRunning()) return;
      child.kill(signal);
      const timer = setTimeout(() => { if (isRunning()) child.kill('SIGKILL'); }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Everything a suite started, stopped together in `afterAll` whatever happened. */
export class ProcessGroup {
  private readonly processes: ManagedProcess[] = [];

  add<T extends ManagedProcess>(p: T): T {
    this.processes.push(p);
    return p;
  }

  /** All captured output, for a failing test's report. */
  logs(): string {
    return this.processes.map((p) => p.log()).join('\n');
  }

  async stopAll(graceMs = 10_000): Promise<void> {
    await Promise.all(this.processes.map((p) => p.stop('SIGTERM', graceMs)));
  }
}

/** Polls `url` until it answers with a 2xx status. */
export async function waitForHttp(url: string, timeoutMs = 30_000, watch?: ManagedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (watch && (watch.child.exitCode !== null || watch.child.signalCode !== null)) {
      throw new Error(`${watch.name} exited before ${url} answered\n${watch.log()}`);
    }
    try {
      const res = await fetch(url);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer 2xx within ${timeoutMs} ms (last: ${last})`);
}

/** Resolves with whichever process prints `pattern` first. */
export async function firstToPrint(processes: ManagedProcess[], pattern: RegExp, timeoutMs = 30_000): Promise<ManagedProcess> {
  return Promise.any(processes.map((p) => p.waitForLine(pattern, timeoutMs).then(() => p)));
}
