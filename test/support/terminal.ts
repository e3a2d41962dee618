// A command on a real pseudo-terminal, and the screen it leaves: util-linux `script` allocates the
// pty (no native addon), and a small VT replay turns the raw bytes back into what a user would see.
import { spawn } from 'node:child_process';

export interface TerminalRun {
  code: number | null;
  /** Every byte the program wrote to the terminal, escape sequences included. */
  raw: string;
}

export interface TerminalOptions {
  cwd: string;
  env: Record<string, string | undefined>;
  columns?: number;
  rows?: number;
  timeoutMs?: number;
}

const shellQuote = (arg: string) => `'${arg.replace(/'/g, `'\\''`)}'`;

/** Runs `argv` with stdin, stdout and stderr on a fresh pty of the given size. */
export function runOnTerminal(argv: string[], options: TerminalOptions): Promise<TerminalRun> {
  const { columns = 160, rows = 40, timeoutMs = 30_000 } = options;
  // A pty opened by `script` without a terminal on its own stdin is 0×0: set the size first.
  const command = `stty cols ${columns} rows ${rows} && exec ${argv.map(shellQuote).join(' ')}`;
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['--quiet', '--return', '--command', command, '/dev/null'], {
      cwd: options.cwd,
      env: { ...options.env, SHELL: '/bin/sh', TERM: 'xterm', COLUMNS: String(columns), LINES: String(rows) },
      // stdin /dev/null: `script` copies it to the pty and then just waits for the program.
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => chunks.push(d));
    child.stderr!.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => {
      process.kill(-child.pid!, 'SIGKILL');
      reject(new Error(`${argv.join(' ')} still running on the terminal after ${timeoutMs} ms\n${Buffer.concat(chunks).toString('utf8')}${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, raw: Buffer.concat(chunks).toString('utf8') });
    });
  });
}

export interface Replay {
  /** The final screen (with scrollback), one string per line, trailing blanks trimmed. */
  screen: string[];
  /** The screen after each synchronized update (`ESC[?2026h … ESC[?2026l`), i.e. each frame drawn. */
  frames: string[][];
}

/**
 * Replays terminal output on an unbounded screen: printable text, CR/LF/BS, auto-wrap, and the CSI
 * sequences log-update uses (cursor up/down/left/right/column, erase line). Colours and modes are ignored.
 */
export function replayTerminal(raw: string, columns = 160): Replay {
  const lines: string[][] = [[]];
  const frames: string[][] = [];
  let row = 0;
  let col = 0;
  const line = () => (lines[row] ??= []);
  const moveTo = (r: number, c: number) => {
    row = Math.max(0, r);
    col = Math.max(0, Math.min(columns - 1, c));
    while (lines.length <= row) lines.push([]);
  };
  const snapshot = () => lines.map((l) => l.join('').replace(/\s+$/, ''));

  const chars = Array.from(raw);
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i];
    if (ch === '\u001b') {
      if (chars[i + 1] !== '[') {
        i++; // two-character escape: nothing log-update relies on
        continue;
      }
      let j = i + 2;
      let params = '';
      while (j < chars.length && !/[\u0040-\u007e]/.test(chars[j])) params += chars[j++];
      const final = chars[j];
      i = j;
      const n = Number(params.replace(/^\?/, '') || 1);
      switch (final) {
        case 'A': moveTo(row - n, col); break;
        case 'B': moveTo(row + n, col); break;
        case 'C': moveTo(row, col + n); break;
        case 'D': moveTo(row, col - n); break;
        case 'G': moveTo(row, n - 1); break;
        case 'K': {
          const mode = Number(params || 0);
          const l = line();
          if (mode === 2) l.length = 0;
          else if (mode === 1) for (let k = 0; k <= col && k < l.length; k++) l[k] = ' ';
          else l.length = Math.min(l.length, col);
          break;
        }
        case 'l':
          if (params === '?2026') frames.push(snapshot());
          break;
        default: break; // colours (m), cursor visibility and synchronized-output start (h)
      }
      continue;
    }
    if (ch === '\r') col = 0;
    else if (ch === '\n') moveTo(row + 1, col);
    else if (ch === '\b') col = Math.max(0, col - 1);
    else if (ch >= ' ') {
      if (col >= columns) moveTo(row + 1, 0);
      const l = line();
      while (l.length < col) l.push(' ');
      l[col++] = ch;
    }
  }
  const screen = snapshot();
  while (screen.length > 0 && screen.at(-1) === '') screen.pop();
  return { screen, frames };
}
