// From the API's job spec (packages/protocol) to the engine's TrainSpec (packages/rnn). The
// dataset decides the model's input and output sizes; the job decides everything else.
import type { JobSpec } from '@unroll/protocol';
import type { Dataset, InputKind, TrainSpec } from '@unroll/rnn';

/** What the parsed dataset tells the model: input kind and sizes. */
export interface DatasetShape {
  inputKind: InputKind;
  /** V for token inputs, feature count for vectors. */
  inputSize: number;
  /** V for language models, class count, or regression targets. */
  outputSize: number;
}

export function datasetShape(ds: Dataset): DatasetShape {
  switch (ds.kind) {
    case 'token-stream':
      return { inputKind: 'tokens', inputSize: ds.vocab.length, outputSize: ds.vocab.length };
    case 'vector-stream':
      return { inputKind: 'vectors', inputSize: ds.inputSize, outputSize: ds.outputSize };
    case 'sequences':
      return { inputKind: ds.inputKind, inputSize: ds.inputSize, outputSize: ds.outputSize };
  }
}

export function toTrainSpec(job: JobSpec, dataset: DatasetShape): TrainSpec {
  const { model, training } = job;
  return {
    task: job.task,
    model: {
      inputKind: dataset.inputKind,
      inputSize: dataset.inputSize,
      hiddenSize: model.hiddenSize,
      outputSize: dataset.outputSize,
      activation: model.activation,
    },
    init: { ...model.init },
    optimizer: { ...training.optimizer },
    schedule: { ...training.schedule },
    clip: { ...training.clip },
    bptt: { ...training.bptt },
    reduction: training.reduction,
    batchSize: training.batchSize,
    epochs: training.epochs,
    seed: training.seed,
  };
}
