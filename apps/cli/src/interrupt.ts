import { createInterface } from 'node:readline';

/**
 * Asks a yes/no question on stderr and reads the answer from stdin (a terminal or a pipe).
 * No answer (stdin closed, or Ctrl-C again) counts as no.
 */
export function askYesNo(question: string, input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input, output, terminal: (input as { isTTY?: boolean }).isTTY === true });
    let settled = false;
    const finish = (answer: boolean) => {
      if (settled) return;
      settled = true;
      rl.close();
      // A paused stdin pipe still holds the event loop open; the CLI must exit when its work ends.
      (input as { unref?: () => void }).unref?.();
      resolve(answer);
    };
    rl.on('SIGINT', () => {
      output.write('\n');
      finish(false);
    });
    rl.on('close', () => finish(false));
    rl.question(question, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
  });
}
