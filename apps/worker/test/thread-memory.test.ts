// The training thread checks the job's memory against its budget before training: a job that
// cannot fit ends with a job_too_large ThreadError that is not retryable, instead of training
// until WebAssembly.Memory.grow fails (and again on every retry). A real worker thread.
import { describe, expect, it } from 'vitest';
import { JobSpec } from '@unroll/protocol';
import type { ThreadMessage } from '../src/thread-protocol.ts';
import { startTrainingThread } from '../src/thread-runner.ts';

const text = 'the quick brown fox jumps over the lazy dog. '.repeat(200);

function spec(over: { hiddenSize: number; batchSize: number }): JobSpec {
  return JobSpec.parse({ datasetId: 'ds_0mwwikgitakq1iqel28', task: 'lm', model: { hiddenSize: over.hiddenSize }, training: { epochs: 1, batchSize: over.batchSize } });
}

async function firstMessages(jobSpec: JobSpec, memoryBudgetBytes: number): Promise<ThreadMessage[]> {
  const thread = startTrainingThread({
    jobId: 'job_0mwwikgmk9saf24i30n',
    spec: jobSpec,
    dataset: { kind: 'text', bytes: new TextEncoder().encode(text), csv: null },
    checkpoints: [],
    pastEpochs: [],
    progressIntervalMs: 60_000,
    cores: 1,
    memoryBudgetBytes,
  });
  const seen: ThreadMessage[] = [];
  try {
    for await (const m of thread.messages) {
      seen.push(m);
      if (m.type === 'started') thread.requestStop('cancel');
    }
  } finally {
    await thread.terminate();
  }
  return seen;
}

describe('training thread memory check', () => {
  it('refuses a job over its budget with job_too_large, not retryable, before training starts', async () => {
    const messages = await firstMessages(spec({ hiddenSize: 256, batchSize: 64 }), 2 * 1024 * 1024);
    expect(messages.map((m) => m.type)).toEqual(['error']);
    const error = (messages[0] as Extract<ThreadMessage, { type: 'error' }>).error;
    expect(error).toMatchObject({ code: 'job_too_large', retryable: false });
    expect(error.message).toMatch(/needs an estimated .* over the (limit|worker budget) of 2\.00 MiB/);
    expect(error.param).toMatch(/^(training|model)\./);
  });

  it('trains a job within its budget', async () => {
    const messages = await firstMessages(spec({ hiddenSize: 16, batchSize: 4 }), 2 * 1024 ** 3);
    expect(messages[0].type).toBe('started');
    expect(messages.at(-1)?.type).toBe('stopped');
  });
});
