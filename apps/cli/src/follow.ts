import { createLogUpdate } from 'log-update';
import type { UnrollClient } from '@unroll/client';
import { isTerminal, type EventMessage, type Job, type JobStatus, type QueuePlace } from '@unroll/protocol';
import { epochSummary, formatDuration, formatNumber, renderLive, type FollowState } from './format.ts';
import { askYesNo } from './interrupt.ts';

export interface Output {
  stdout: NodeJS.WriteStream | NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Machine-readable: one JSON event message per line. */
  json: boolean;
  /** Redraw a live block in place (stdout is a terminal); else plain lines. */
  live: boolean;
}

export type FollowOutcome =
  | { kind: 'finished'; status: JobStatus; cancelledByUser: boolean }
  /** The user stopped watching; the job goes on. */
  | { kind: 'detached' };

/** Follows a job's events until it finishes, showing progress; Ctrl-C offers to cancel it. */
export async function followJob(client: UnrollClient, job: Job, out: Output): Promise<FollowOutcome> {
  const state: FollowState = {
    jobId: job.id,
    status: job.status,
    totalEpochs: job.spec.training.epochs,
    lastEpoch: null,
    lastProgress: null,
    trainLosses: [],
  };
  const startedAt = Date.now();
  const abort = new AbortController();
  const live = out.live && !out.json ? createLogUpdate(out.stdout as NodeJS.WriteStream) : null;
  const say = (line: string) => {
    if (out.json) return;
    if (live) live.persist(line);
    else out.stdout.write(`${line}\n`);
  };
  let detached = false;
  let cancelledByUser = false;
  let prompting = false;

  const onSigint = () => {
    if (prompting) return; // readline handles the second Ctrl-C
    prompting = true;
    live?.clear();
    void askYesNo(`\nCancel job ${job.id}? [y/N] `, process.stdin, out.stderr).then(async (yes) => {
      prompting = false;
      if (yes) {
        cancelledByUser = true;
        try {
          const after = await client.cancelJob(job.id);
          out.stderr.write(`cancel requested (status ${after.status}); waiting for the worker to stop…\n`);
        } catch (err) {
          out.stderr.write(`could not cancel: ${(err as Error).message}\n`);
        }
      } else {
        detached = true;
        abort.abort();
      }
    });
  };
  process.on('SIGINT', onSigint);

  let finalStatus: JobStatus = job.status;
  try {
    say(`following ${job.id} (${job.task}, ${state.totalEpochs} epochs)`);
    if (job.status === 'queued') {
      // `watch` passes a job it just read (with its place); `train` one from the create answer (without).
      const place = job.queue ?? (await client.getJob(job.id)).queue;
      if (place) say(queueHint(place));
    }
    for await (const message of client.watch(job.id, {
      signal: abort.signal,
      onReconnect: ({ attempt, reason }) => out.stderr.write(`connection lost (${reason}); reconnecting (attempt ${attempt})…\n`),
    })) {
      if (out.json) out.stdout.write(`${JSON.stringify(message)}\n`);
      apply(message, state, say);
      if (message.event.type === 'status') finalStatus = message.event.status;
      if (live && !prompting) live(renderLive(state));
    }
  } finally {
    process.off('SIGINT', onSigint);
    live?.done();
  }
  if (detached) {
    say(`stopped watching; ${job.id} keeps running. Follow it again with: unroll watch ${job.id}`);
    return { kind: 'detached' };
  }
  if (!isTerminal(finalStatus)) finalStatus = (await client.getJob(job.id)).status;
  say(`${job.id} ${finalStatus} after ${formatDuration((Date.now() - startedAt) / 1000)}`);
  return { kind: 'finished', status: finalStatus, cancelledByUser };
}

function apply(message: EventMessage, state: FollowState, say: (line: string) => void): void {
  const event = message.event;
  switch (event.type) {
    case 'status':
      state.status = event.status;
      say(`status ${event.status}${event.attempt ? ` (attempt ${event.attempt})` : ''}${event.reason ? `: ${event.reason}` : ''}`);
      break;
    case 'epoch':
      state.lastEpoch = event;
      if (event.trainLoss !== null) state.trainLosses.push(event.trainLoss);
      say(epochSummary(event, state.totalEpochs));
      break;
    case 'progress':
      state.lastProgress = event;
      break;
    case 'completed':
      say(`completed: final loss ${formatNumber(event.finalLoss)}${event.bestEpoch ? `, best epoch ${event.bestEpoch}` : ''}; weights: unroll weights ${state.jobId} -o model.safetensors`);
      break;
    case 'failed':
      say(`failed: ${event.code}: ${event.message}${event.param ? ` (${event.param})` : ''}`);
      break;
    case 'checkpoint':
      break;
  }
}

/** Why a queued job has not started: its place in line, and a warning when no worker is there to take it. */
export function queueHint(place: QueuePlace): string {
  const where = place.state === 'waiting' && place.position !== null ? `queued, position ${place.position}` : place.state === 'delayed' ? 'queued, waiting out a retry backoff' : 'queued';
  if (place.liveWorkers === 0) return `${where}; no worker is connected, so nothing will train until one starts (pnpm start runs one)`;
  return `${where}; ${place.liveWorkers} worker${place.liveWorkers === 1 ? '' : 's'} connected`;
}
