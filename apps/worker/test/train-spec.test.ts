import { describe, expect, it } from 'vitest';
import { JobSpec } from '@unroll/protocol';
import { parseTextCorpus, validateTrainSpec } from '@unroll/rnn';
import { datasetShape, toTrainSpec } from '../src/train-spec.ts';

describe('toTrainSpec', () => {
  it('maps a job spec with the dataset deciding the model sizes', () => {
    const job = JobSpec.parse({
      datasetId: 'ds_abcdefgh12',
      task: 'lm',
      model: { hiddenSize: 32, activation: 'relu', init: { scheme: 'orthogonal', gain: 0.5 } },
      training: {
        epochs: 7,
        batchSize: 3,
        bptt: { mode: 'truncated', k1: 5, k2: 10 },
        optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 },
        schedule: { kind: 'step', stepSize: 2, gamma: 0.5 },
        clip: { mode: 'value', value: 1 },
        reduction: 'sum',
        seed: 42,
      },
    });
    const corpus = parseTextCorpus('abcabcabd');
    const spec = toTrainSpec(job, datasetShape(corpus));
    expect(spec).toEqual({
      task: 'lm',
      model: { inputKind: 'tokens', inputSize: 4, hiddenSize: 32, outputSize: 4, activation: 'relu' },
      init: { scheme: 'orthogonal', gain: 0.5 },
      optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
      schedule: { kind: 'step', stepSize: 2, gamma: 0.5 },
      clip: { mode: 'value', value: 1 },
      bptt: { mode: 'truncated', k1: 5, k2: 10 },
      reduction: 'sum',
      batchSize: 3,
      epochs: 7,
      seed: 42,
    });
    // The engine accepts it for this dataset.
    expect(() => validateTrainSpec(spec, corpus)).not.toThrow();
  });

  it('uses the defaults the protocol filled in', () => {
    const job = JobSpec.parse({ datasetId: 'ds_abcdefgh12', task: 'regression', model: {}, training: {} });
    const spec = toTrainSpec(job, { inputKind: 'vectors', inputSize: 3, outputSize: 2 });
    expect(spec.model).toEqual({ inputKind: 'vectors', inputSize: 3, hiddenSize: 64, outputSize: 2, activation: 'tanh' });
    expect(spec.bptt).toEqual({ mode: 'truncated', k1: 25, k2: 25 });
    expect(spec.optimizer.name).toBe('adam');
    expect(spec.clip).toEqual({ mode: 'norm', maxNorm: 5 });
    expect(spec.init).toEqual({ scheme: 'pytorch' });
  });
});
