// Plain-data descriptions of a model and of a training run. These are what a job carries,
// what a checkpoint records, and what the CLI flags fill in. Every field is explicit; defaults
// live in `withDefaults` functions next to the code that uses them.

export type Task = 'lm' | 'regression' | 'classification';
export type Activation = 'tanh' | 'relu';
export type InputKind = 'tokens' | 'vectors';

export interface ModelSpec {
  inputKind: InputKind;
  /** I: vocabulary size V for tokens, feature count for vectors. */
  inputSize: number;
  /** H */
  hiddenSize: number;
  /** O: V for language models, number of classes, or regression targets. */
  outputSize: number;
  activation: Activation;
}

export type InitSpec =
  | { scheme: 'pytorch' } // every tensor U(-1/sqrt(H), 1/sqrt(H)), like torch.nn.RNN + Linear(H, O)
  | { scheme: 'xavier'; gain?: number } // Xavier-uniform matrices, zero biases
  | { scheme: 'orthogonal'; gain?: number } // orthogonal W_hh, Xavier W_xh / W_hy, zero biases
  | { scheme: 'identity'; gain?: number } // IRNN: W_hh = gain·I, small-normal W_xh / W_hy, zero biases
  | { scheme: 'normal'; std?: number }; // min-char-rnn: N(0, std²) matrices (std 0.01), zero biases

export type OptimizerSpec =
  | { name: 'sgd'; lr: number; momentum?: number; dampening?: number; nesterov?: boolean; weightDecay?: number }
  | { name: 'adam'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; amsgrad?: boolean }
  | { name: 'adamw'; lr: number; beta1?: number; beta2?: number; eps?: number; weightDecay?: number; amsgrad?: boolean }
  | { name: 'adagrad'; lr: number; lrDecay?: number; weightDecay?: number; initialAccumulatorValue?: number; eps?: number }
  | { name: 'rmsprop'; lr: number; alpha?: number; eps?: number; weightDecay?: number; momentum?: number; centered?: boolean };

/** Learning-rate schedule, stepped once per epoch like a PyTorch scheduler. */
export type ScheduleSpec =
  | { kind: 'constant' }
  | { kind: 'step'; stepSize: number; gamma: number }
  | { kind: 'cosine'; tMax: number; etaMin?: number };

export type ClipSpec =
  | { mode: 'none' }
  | { mode: 'norm'; maxNorm: number } // torch.nn.utils.clip_grad_norm_ (L2)
  | { mode: 'value'; value: number }; // element-wise clamp to [-value, value] (min-char-rnn)

export type BpttSpec = { mode: 'full' } | { mode: 'truncated'; k1: number; k2: number };

export type Reduction = 'mean' | 'sum';

export interface TrainSpec {
  task: Task;
  model: ModelSpec;
  init: InitSpec;
  optimizer: OptimizerSpec;
  schedule: ScheduleSpec;
  clip: ClipSpec;
  bptt: BpttSpec;
  reduction: Reduction;
  /** B: parallel streams (language model / forecasting) or sequences per batch. */
  batchSize: number;
  epochs: number;
  seed: number;
}
