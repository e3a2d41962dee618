import { InvalidArgumentError } from 'commander';
import { CreateJobRequest, type CreateJobRequestInput, type Task } from '@unroll/protocol';

/** Flags of `unroll train`, as commander hands them over. */
export interface TrainFlags {
  task?: Task;
  hidden?: number;
  activation?: 'tanh' | 'relu';
  init?: string;
  epochs?: number;
  batchSize?: number;
  k1?: number;
  k2?: number;
  fullBptt?: boolean;
  optimizer?: string;
  lr?: number;
  momentum?: number;
  weightDecay?: number;
  clipNorm?: number;
  clip?: boolean;
  valSplit?: number;
  earlyStopping?: number;
  seed?: number;
}

export function intArg(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${value}"`);
  return n;
}

export function numberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** Flag that sets each request field, so a schema error names what the user typed. */
const FLAG_OF_PARAM: Record<string, string> = {
  task: '--task',
  'model.hiddenSize': '--hidden',
  'model.activation': '--activation',
  'model.init': '--init',
  'model.init.scheme': '--init',
  'training.epochs': '--epochs',
  'training.batchSize': '--batch-size',
  'training.bptt.k1': '--k1',
  'training.bptt.k2': '--k2',
  'training.optimizer': '--optimizer',
  'training.optimizer.name': '--optimizer',
  'training.optimizer.lr': '--lr',
  'training.optimizer.momentum': '--momentum',
  'training.optimizer.weightDecay': '--weight-decay',
  'training.clip.maxNorm': '--clip-norm',
  'training.validationSplit': '--val-split',
  'training.earlyStopping.patience': '--early-stopping',
  'training.seed': '--seed',
};

export class TrainOptionsError extends Error {
  override name = 'TrainOptionsError';
}

/** The job request the flags describe; validated here with the API's own schema before anything is uploaded. */
export function buildJobRequest(datasetId: string, task: Task, flags: TrainFlags): CreateJobRequestInput {
  const model: Record<string, unknown> = {};
  if (flags.hidden !== undefined) model.hiddenSize = flags.hidden;
  if (flags.activation !== undefined) model.activation = flags.activation;
  if (flags.init !== undefined) model.init = { scheme: flags.init };

  const training: Record<string, unknown> = {};
  if (flags.epochs !== undefined) training.epochs = flags.epochs;
  if (flags.batchSize !== undefined) training.batchSize = flags.batchSize;
  if (flags.fullBptt) training.bptt = { mode: 'full' };
  else if (flags.k1 !== undefined || flags.k2 !== undefined) {
    const k2 = flags.k2 ?? flags.k1 ?? 25;
    training.bptt = { mode: 'truncated', k1: flags.k1 ?? k2, k2 };
  }
  const optimizer: Record<string, unknown> = {};
  if (flags.optimizer !== undefined || flags.lr !== undefined || flags.momentum !== undefined || flags.weightDecay !== undefined) {
    optimizer.name = flags.optimizer ?? 'adam';
    if (flags.lr !== undefined) optimizer.lr = flags.lr;
    if (flags.momentum !== undefined) optimizer.momentum = flags.momentum;
    if (flags.weightDecay !== undefined) optimizer.weightDecay = flags.weightDecay;
    training.optimizer = optimizer;
  }
  if (flags.clip === false) training.clip = { mode: 'none' };
  else if (flags.clipNorm !== undefined) training.clip = { mode: 'norm', maxNorm: flags.clipNorm };
  if (flags.valSplit !== undefined) training.validationSplit = flags.valSplit;
  if (flags.earlyStopping !== undefined) training.earlyStopping = { patience: flags.earlyStopping };
  if (flags.seed !== undefined) training.seed = flags.seed;

  const request = { datasetId, task, model, training } as CreateJobRequestInput;
  const parsed = CreateJobRequest.safeParse(request);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.join('.');
    const unknownKey = issue.code === 'unrecognized_keys' ? issue.keys[0] : undefined;
    const flag = FLAG_OF_PARAM[param] ?? (param ? param : 'options');
    throw new TrainOptionsError(`${flag}: ${unknownKey ? `not valid for this optimizer (${unknownKey})` : issue.message}`);
  }
  return request;
}

/** The task a dataset trains for when --task is not given: text is a language model; JSON says its own. */
export function defaultTask(kind: string, stats: Record<string, unknown>): Task {
  if (kind === 'text') return 'lm';
  if (typeof stats.task === 'string' && (stats.task === 'regression' || stats.task === 'classification')) return stats.task;
  return 'regression';
}
