// From the API's job spec (packages/protocol) to the engine's TrainSpec (packages/rnn). The
// dataset decides the model's input and output sizes; the job decides everything else.
import type { JobSpec } from '@unroll/protocol';
import { datasetSizes, type Dataset, type TrainSpec } from '@unroll/rnn';

/** What the parsed dataset tells the model: input kind, I (V or features) and O. */
export type DatasetShape = ReturnType<typeof datasetSizes>;

/** The engine decides the sizes a dataset implies; the worker only maps the job onto them. */
export const datasetShape = (ds: Dataset): DatasetShape => datasetSizes(ds);

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
