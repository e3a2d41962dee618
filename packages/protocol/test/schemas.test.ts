import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CreateJobRequest, JobEvent, MAX_INLINE_DATASET_BYTES, TRANSITIONS, UploadDatasetQuery, WeightsQuery, isTerminalStatusEvent } from '../src/index.ts';

const base = { datasetId: 'ds_abcdefgh12', task: 'lm' } as const;
const issues = (input: unknown) => CreateJobRequest.safeParse(input).error?.issues ?? [];

describe('CreateJobRequest', () => {
  it('fills every default so the job echoes what will run', () => {
    const req = CreateJobRequest.parse(base);
    expect(req.model).toEqual({ hiddenSize: 64, activation: 'tanh', init: { scheme: 'pytorch' } });
    expect(req.training).toEqual({
      epochs: 10,
      batchSize: 16,
      bptt: { mode: 'truncated', k1: 25, k2: 25 },
      optimizer: { name: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false },
      schedule: { kind: 'constant' },
      clip: { mode: 'norm', maxNorm: 5 },
      reduction: 'mean',
      validationSplit: 0.1,
      earlyStopping: null,
      checkpoints: { keep: 3 },
      seed: 0,
    });
  });

  it('fills nested defaults of a partly given object', () => {
    const req = CreateJobRequest.parse({ ...base, training: { optimizer: { name: 'sgd', lr: 0.1 }, earlyStopping: {} } });
    expect(req.training.optimizer).toEqual({ name: 'sgd', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    expect(req.training.earlyStopping).toEqual({ patience: 5, minDelta: 0 });
    expect(req.training.epochs).toBe(10);
  });

  it('rejects unknown fields at every level, naming them', () => {
    expect(issues({ ...base, extra: 1 })[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['extra'], path: [] });
    expect(issues({ ...base, model: { hidden: 3 } })[0]).toMatchObject({ code: 'unrecognized_keys', keys: ['hidden'], path: ['model'] });
    expect(issues({ ...base, training: { optimizer: { name: 'sgd', beta1: 0.9 } } })[0]).toMatchObject({
      code: 'unrecognized_keys',
      path: ['training', 'optimizer'],
    });
  });

  it('bounds every number', () => {
    const cases: [unknown, string][] = [
      [{ training: { epochs: 0 } }, 'training.epochs'],
      [{ training: { epochs: 1001 } }, 'training.epochs'],
      [{ training: { epochs: 1.5 } }, 'training.epochs'],
      [{ training: { batchSize: 100000 } }, 'training.batchSize'],
      [{ model: { hiddenSize: 4096 } }, 'model.hiddenSize'],
      [{ training: { optimizer: { name: 'adam', lr: 0 } } }, 'training.optimizer.lr'],
      [{ training: { optimizer: { name: 'adam', lr: 100 } } }, 'training.optimizer.lr'],
      [{ training: { bptt: { mode: 'truncated', k1: 10, k2: 5000 } } }, 'training.bptt.k2'],
      [{ training: { bptt: { mode: 'truncated', k1: 30, k2: 10 } } }, 'training.bptt.k1'],
      [{ training: { validationSplit: 0.9 } }, 'training.validationSplit'],
      [{ training: { clip: { mode: 'norm', maxNorm: -1 } } }, 'training.clip.maxNorm'],
      [{ training: { seed: -1 } }, 'training.seed'],
      [{ model: { init: { scheme: 'normal', std: 5 } } }, 'model.init.std'],
    ];
    for (const [patch, path] of cases) {
      const found = issues({ ...base, ...(patch as object) });
      expect(found.map((i) => i.path.join('.')), JSON.stringify(patch)).toContain(path);
    }
  });

  it('needs exactly one of datasetId or inline, and bounds inline content', () => {
    expect(issues({ task: 'lm' })[0].path).toEqual(['datasetId']);
    expect(issues({ ...base, inline: { format: 'text', content: 'ab' } })[0].path).toEqual(['datasetId']);
    expect(CreateJobRequest.safeParse({ task: 'lm', inline: { format: 'text', content: 'abc' } }).success).toBe(true);
    const big = 'a'.repeat(MAX_INLINE_DATASET_BYTES + 1);
    expect(issues({ task: 'lm', inline: { format: 'text', content: big } })[0].path).toEqual(['inline', 'content']);
    expect(issues({ task: 'sing', datasetId: 'ds_abcdefgh12' })[0].path).toEqual(['task']);
  });
});

describe('events', () => {
  const epoch = {
    type: 'epoch', epoch: 1, trainLoss: 2, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {},
    timeProfile: [], whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.1, etaSeconds: 0,
  };
  it('accepts each event type and rejects malformed ones', () => {
    expect(JobEvent.safeParse(epoch).success).toBe(true);
    expect(JobEvent.safeParse({ ...epoch, extraMetric: 3 }).success).toBe(true);
    expect(JobEvent.safeParse({ ...epoch, clipRate: 2 }).success).toBe(false);
    expect(JobEvent.safeParse({ type: 'status', status: 'running', at: new Date().toISOString() }).success).toBe(true);
    expect(JobEvent.safeParse({ type: 'status', status: 'paused', at: new Date().toISOString() }).success).toBe(false);
    expect(JobEvent.safeParse({ type: 'checkpoint', epoch: 1, sneaky: true }).success).toBe(false);
    expect(JobEvent.safeParse({ type: 'completed', weights: { safetensors: 'a', json: 'b' }, bestEpoch: null, finalLoss: 1 }).success).toBe(true);
    expect(JobEvent.safeParse({ type: 'failed', code: 'non_finite_loss', message: 'NaN', epoch: 2 }).success).toBe(true);
    expect(JobEvent.safeParse({ type: 'nope' }).success).toBe(false);
  });
  it('knows terminal status events', () => {
    expect(isTerminalStatusEvent({ type: 'status', status: 'succeeded', at: '2026-01-01T00:00:00.000Z' })).toBe(true);
    expect(isTerminalStatusEvent({ type: 'status', status: 'running', at: '2026-01-01T00:00:00.000Z' })).toBe(false);
  });
  it('lifecycle: terminal states have no way out, running can go back to queued', () => {
    expect(TRANSITIONS.succeeded).toEqual([]);
    expect(TRANSITIONS.running).toContain('queued');
    expect(TRANSITIONS.queued).not.toContain('succeeded');
  });
});

describe('query schemas', () => {
  it('coerces upload and weights queries', () => {
    expect(UploadDatasetQuery.parse({ horizon: '3', normalize: 'false', targetColumns: 'a,b' })).toEqual({ horizon: 3, normalize: false, targetColumns: 'a,b' });
    expect(UploadDatasetQuery.safeParse({ horizon: '0' }).success).toBe(false);
    expect(WeightsQuery.parse({})).toEqual({ format: 'safetensors' });
    expect(WeightsQuery.safeParse({ checkpoint: 'worst' }).success).toBe(false);
    expect(WeightsQuery.parse({ checkpoint: '12', format: 'json' })).toEqual({ checkpoint: '12', format: 'json' });
  });
  it('every schema converts to JSON Schema (for the OpenAPI document)', () => {
    expect(() => z.toJSONSchema(CreateJobRequest, { io: 'input' })).not.toThrow();
    expect(() => z.toJSONSchema(JobEvent)).not.toThrow();
  });
});
