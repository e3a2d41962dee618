// A trained (or imported) Elman RNN: inference, sampling, and weight export / import in
// safetensors (PyTorch names and shapes, torch.nn.RNN(I, H, nonlinearity) + nn.Linear(H, O))
// and JSON.

import { encodeText } from './data/text.ts';
import { ModelFormatError, ModelInputError } from './errors.ts';
import { jsKernels } from './kernels/js.ts';
import type { Kernels } from './kernels/kernels.ts';
import { type Dtype, type FloatArray, PARAM_NAMES, type ParamLayout, paramLayout, TORCH_NAMES, viewsOf } from './layout.ts';
import { lossKindOf } from './loss.ts';
import { Prng } from './prng.ts';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from './safetensors.ts';
import { sampleFromLogits, softmaxInto } from './sampling.ts';
import type { Activation, InputKind, ModelSpec, Task } from './spec.ts';
import { BpttWorkspace, type ParamViews, windowForwardBackward } from './window.ts';

export const MODEL_JSON_FORMAT = 'unroll-rnn-json';
export const MODEL_FORMAT_VERSION = 1;
/** Steps per forward chunk in predict (memory stays O(chunk·B·H) besides the outputs). */
const PREDICT_CHUNK = 256;

export interface RnnModelInit {
  spec: ModelSpec;
  task: Task;
  params: FloatArray;
  vocab?: string[];
  metadata?: Record<string, string>;
  /** The TrainSpec (or any plain object) recorded as 'hyperparameters' in exports. */
  hyperparameters?: unknown;
  kernels?: Kernels;
}

export interface PredictResult {
  B: number;
  T: number;
  /** (B, T, O): probabilities for 'lm' / 'classification', predicted values for 'regression'. */
  outputs: Float64Array;
  /** (B, T, O) raw outputs y_t = W_hy h_t + b_y. */
  logits: Float64Array;
  /** (B, H) hidden state after the last step. */
  hidden: Float64Array;
}

export interface ImportOptions {
  /** Required when the file carries no Unroll metadata. */
  task?: Task;
  vocab?: string[];
  activation?: Activation;
  inputKind?: InputKind;
  dtype?: Dtype;
}

export interface ModelJson {
  format: typeof MODEL_JSON_FORMAT;
  version: number;
  task: Task;
  spec: ModelSpec;
  vocab?: string[];
  tensors: { name: string; shape: number[]; data: number[] }[];
  metadata: Record<string, string>;
}

export class RnnModel {
  readonly spec: ModelSpec;
  readonly task: Task;
  readonly params: FloatArray;
  readonly layout: ParamLayout;
  readonly vocab?: string[];
  readonly metadata: Record<string, string>;
  readonly hyperparameters: unknown;
  private readonly kernels: Kernels;

  constructor(init: RnnModelInit) {
    const { spec } = init;
    this.spec = spec;
    this.task = init.task;
    this.layout = paramLayout(spec.inputSize, spec.hiddenSize, spec.outputSize);
    if (init.params.length !== this.layout.total) {
      throw new ModelFormatError('model_shape_mismatch', `params has ${init.params.length} values, the model needs ${this.layout.total}`);
    }
    this.params = init.params;
    if (init.vocab !== undefined) this.vocab = init.vocab;
    this.metadata = init.metadata ?? {};
    this.hyperparameters = init.hyperparameters ?? null;
    this.kernels = init.kernels ?? jsKernels;
  }

  get dtype(): Dtype {
    return this.params instanceof Float64Array ? 'float64' : 'float32';
  }

  private views(): ParamViews {
    return viewsOf(this.params, this.layout);
  }

  /**
   * Runs the model over sequences of equal length. inputs: token ids (T), vectors (T, I) flat,
   * or an array of those (a batch). h0: (B, H), zeros when omitted.
   */
  predict(inputs: Int32Array | Float32Array | Float64Array | (Int32Array | Float32Array | Float64Array)[], h0?: ArrayLike<number>): PredictResult {
    const batch = Array.isArray(inputs) ? inputs : [inputs];
    const { inputKind, inputSize: I, hiddenSize: H, outputSize: O } = this.spec;
    const B = batch.length;
    if (B === 0) throw new ModelInputError('inputs', 'empty batch');
    const stepsOf = (x: ArrayLike<number>) => (inputKind === 'tokens' ? x.length : x.length / I);
    const T = stepsOf(batch[0]);
    batch.forEach((x, b) => {
      if (inputKind === 'tokens' && !(x instanceof Int32Array)) throw new ModelInputError(`inputs[${b}]`, 'token inputs must be an Int32Array of ids');
      if (inputKind === 'vectors' && x instanceof Int32Array) throw new ModelInputError(`inputs[${b}]`, 'vector inputs must be a Float32Array (T, I)');
      if (!Number.isInteger(stepsOf(x))) throw new ModelInputError(`inputs[${b}]`, `length ${x.length} is not a multiple of I = ${I}`);
      if (stepsOf(x) !== T) throw new ModelInputError(`inputs[${b}]`, `has ${stepsOf(x)} steps, inputs[0] has ${T}`);
      if (inputKind === 'tokens') {
        for (let i = 0; i < x.length; i++) {
          if (!(x[i] >= 0 && x[i] < I)) throw new ModelInputError(`inputs[${b}][${i}]`, `token id ${x[i]} outside [0, ${I})`);
        }
      }
    });
    if (h0 !== undefined && h0.length !== B * H) throw new ModelInputError('h0', `has ${h0.length} values, expected B·H = ${B * H}`);
    const chunk = Math.max(1, Math.min(PREDICT_CHUNK, T));
    const ws = new BpttWorkspace(this.kernels, this.dtype, this.spec, lossKindOf(this.task), chunk, B);
    ws.targetIds.fill(-1); // no loss: forward only
    const logits = new Float64Array(B * T * O);
    const outputs = new Float64Array(B * T * O);
    const hidden = new Float64Array(B * H);
    if (h0 !== undefined) for (let i = 0; i < B * H; i++) hidden[i] = h0[i];
    const params = this.views();
    const probs = new Float64Array(O);
    for (let start = 0; start < T; start += chunk) {
      const K = Math.min(chunk, T - start);
      for (let t = 0; t < K; t++) {
        for (let b = 0; b < B; b++) {
          const x = batch[b];
          if (inputKind === 'tokens') ws.ids[t * B + b] = x[start + t];
          else for (let i = 0; i < I; i++) ws.x[(t * B + b) * I + i] = x[(start + t) * I + i];
        }
      }
      const h0View = ws.h0(B);
      for (let i = 0; i < B * H; i++) h0View[i] = hidden[i];
      windowForwardBackward(ws, params, null, { K, B, lossFrom: 0 }, { reduction: 'sum' });
      for (let t = 0; t < K; t++) {
        const y = ws.outputsAt(t, 0, B); // (B, O)
        for (let b = 0; b < B; b++) {
          const row = y.subarray(b * O, (b + 1) * O);
          const at = (b * T + start + t) * O;
          for (let o = 0; o < O; o++) logits[at + o] = row[o];
          if (this.task === 'regression') {
            for (let o = 0; o < O; o++) outputs[at + o] = row[o];
          } else {
            softmaxInto(probs, row, 1);
            outputs.set(probs, at);
          }
        }
      }
      hidden.set(ws.hiddenAt(K, B));
    }
    return { B, T, outputs, logits, hidden };
  }

  /**
   * Character sampling from a language model: feeds `prime`, then draws `length` characters
   * (temperature 0 = greedy; topK restricts to the K most likely). Returns prime + the new text.
   */
  sample(options: { prime: string; length: number; temperature: number; topK?: number; seed: number }): string {
    if (this.task !== 'lm') throw new ModelInputError('task', `sampling needs a language model, this one is '${this.task}'`);
    const vocab = this.vocab;
    if (vocab === undefined) throw new ModelInputError('vocab', 'the model has no vocabulary');
    const { length, temperature, topK, seed } = options;
    if (!Number.isSafeInteger(length) || length < 0) throw new ModelInputError('length', `must be an integer >= 0, got ${length}`);
    if (!Number.isFinite(temperature) || temperature < 0) throw new ModelInputError('temperature', `must be >= 0, got ${temperature}`);
    if (topK !== undefined && (!Number.isSafeInteger(topK) || topK < 1)) throw new ModelInputError('topK', `must be an integer >= 1, got ${topK}`);
    if (!Number.isSafeInteger(seed)) throw new ModelInputError('seed', `must be a safe integer, got ${seed}`);
    let primeIds: Int32Array;
    try {
      primeIds = encodeText(options.prime, vocab);
    } catch (e) {
      throw new ModelInputError('prime', (e as Error).message);
    }
    const { hiddenSize: H, outputSize: O } = this.spec;
    const ws = new BpttWorkspace(this.kernels, this.dtype, this.spec, 'cross-entropy', 1, 1);
    ws.targetIds[0] = -1;
    const params = this.views();
    const rng = new Prng(seed);
    let logits: FloatArray = this.params.subarray(this.layout.byName.by.offset, this.layout.byName.by.offset + O); // y from h0 = 0
    const h = new Float64Array(H);
    const feed = (id: number) => {
      ws.ids[0] = id;
      ws.h0(1).set(h);
      windowForwardBackward(ws, params, null, { K: 1, B: 1, lossFrom: 0 }, { reduction: 'sum' });
      h.set(ws.hiddenAt(1, 1));
      logits = ws.outputsAt(0, 0, 1);
    };
    for (const id of primeIds) feed(id);
    let out = options.prime;
    for (let n = 0; n < length; n++) {
      const id = sampleFromLogits(logits, { temperature, topK }, rng);
      out += vocab[id];
      feed(id);
    }
    return out;
  }

  /** Unroll metadata written into exports (all values strings, as safetensors requires). */
  private exportMetadata(extra: Record<string, string> = {}): Record<string, string> {
    const m: Record<string, string> = {
      ...this.metadata,
      format: 'unroll-rnn',
      format_version: String(MODEL_FORMAT_VERSION),
      task: this.task,
      model: JSON.stringify(this.spec),
      activation: this.spec.activation, // torch.nn.RNN nonlinearity
      inputKind: this.spec.inputKind,
      architecture: `torch.nn.RNN(${this.spec.inputSize}, ${this.spec.hiddenSize}, nonlinearity='${this.spec.activation}', batch_first=True) + torch.nn.Linear(${this.spec.hiddenSize}, ${this.spec.outputSize})`,
    };
    if (this.vocab !== undefined) m.vocab = JSON.stringify(this.vocab);
    if (this.hyperparameters !== null) m.hyperparameters = JSON.stringify(this.hyperparameters);
    return { ...m, ...extra };
  }

  /** F32 safetensors with PyTorch names and shapes; metadata in __metadata__. */
  toSafetensors(extraMetadata?: Record<string, string>): Uint8Array {
    const tensors: Record<string, Tensor> = {};
    for (const v of this.layout.views) {
      tensors[v.torchName] = {
        dtype: 'F32',
        shape: [...v.shape],
        data: Float32Array.from(this.params.subarray(v.offset, v.offset + v.size)),
      };
    }
    return encodeSafetensors(tensors, this.exportMetadata(extraMetadata));
  }

  toJSON(): ModelJson {
    const out: ModelJson = {
      format: MODEL_JSON_FORMAT,
      version: MODEL_FORMAT_VERSION,
      task: this.task,
      spec: this.spec,
      tensors: this.layout.views.map((v) => ({
        name: v.torchName,
        shape: [...v.shape],
        data: Array.from(this.params.subarray(v.offset, v.offset + v.size)),
      })),
      metadata: this.exportMetadata(),
    };
    if (this.vocab !== undefined) out.vocab = [...this.vocab];
    return out;
  }

  /**
   * Loads a safetensors file in the PyTorch layout (ours, or exported by PyTorch). Without our
   * metadata, sizes come from the shapes and options must give the task (and vocab for sampling).
   */
  static fromSafetensors(bytes: Uint8Array, options: ImportOptions = {}): RnnModel {
    let decoded: ReturnType<typeof decodeSafetensors>;
    try {
      // a plain Uint8Array view: Node's Buffer#slice aliases instead of copying
      decoded = decodeSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    } catch (e) {
      if (e instanceof SafetensorsError) throw new ModelFormatError('invalid_model_file', e.message);
      throw e;
    }
    const { tensors, metadata } = decoded;
    const get = (name: string): Tensor => {
      const t = tensors[name];
      if (t === undefined) throw new ModelFormatError('invalid_model_file', `tensor '${name}' is missing`, name);
      if (t.dtype !== 'F32' && t.dtype !== 'F64') throw new ModelFormatError('invalid_model_file', `tensor '${name}' has dtype ${t.dtype}, expected F32 or F64`, name);
      return t;
    };
    const raw = Object.fromEntries(PARAM_NAMES.map((p) => [p, get(TORCH_NAMES[p])])) as Record<(typeof PARAM_NAMES)[number], Tensor>;
    const [H, I] = raw.Wxh.shape;
    const O = raw.Why.shape[0];
    const parseJson = <T>(key: string): T | undefined => {
      if (metadata[key] === undefined) return undefined;
      try {
        return JSON.parse(metadata[key]) as T;
      } catch {
        throw new ModelFormatError('invalid_model_file', `metadata '${key}' is not valid JSON`, `__metadata__.${key}`);
      }
    };
    const metaSpec = parseJson<ModelSpec>('model');
    const task = (options.task ?? metadata.task) as Task | undefined;
    if (task === undefined) throw new ModelFormatError('model_metadata_missing', 'the file does not say its task; pass task', 'task');
    if (!['lm', 'regression', 'classification'].includes(task)) throw new ModelFormatError('invalid_model_file', `unknown task '${task}'`, 'task');
    const activation = (options.activation ?? metaSpec?.activation ?? metadata.activation ?? 'tanh') as Activation;
    if (activation !== 'tanh' && activation !== 'relu') throw new ModelFormatError('invalid_model_file', `unknown activation '${activation}'`, 'activation');
    const inputKind = (options.inputKind ?? metaSpec?.inputKind ?? metadata.inputKind ?? (task === 'lm' ? 'tokens' : undefined)) as InputKind | undefined;
    if (inputKind !== 'tokens' && inputKind !== 'vectors') throw new ModelFormatError('model_metadata_missing', 'the file does not say its input kind; pass inputKind', 'inputKind');
    const spec: ModelSpec = { inputKind, inputSize: I, hiddenSize: H, outputSize: O, activation };
    const vocab = options.vocab ?? parseJson<string[]>('vocab');
    const meta = { ...metadata };
    for (const k of ['format', 'format_version', 'task', 'model', 'activation', 'inputKind', 'architecture', 'vocab', 'hyperparameters']) delete meta[k];
    return RnnModel.fromTensors(spec, task, (p) => raw[p], vocab, meta, parseJson('hyperparameters'), options.dtype ?? 'float32');
  }

  static fromJSON(obj: unknown, options: ImportOptions = {}): RnnModel {
    const j = obj as Partial<ModelJson>;
    if (j === null || typeof j !== 'object' || j.format !== MODEL_JSON_FORMAT) {
      throw new ModelFormatError('invalid_model_file', `not a '${MODEL_JSON_FORMAT}' document`, 'format');
    }
    if (j.version !== MODEL_FORMAT_VERSION) throw new ModelFormatError('invalid_model_file', `unsupported version ${j.version}`, 'version');
    if (!Array.isArray(j.tensors) || j.spec === undefined || j.task === undefined) {
      throw new ModelFormatError('invalid_model_file', 'missing tensors, spec or task', 'tensors');
    }
    const byName = new Map(j.tensors.map((t) => [t.name, t]));
    const tensorOf = (p: (typeof PARAM_NAMES)[number]): Tensor => {
      const t = byName.get(TORCH_NAMES[p]);
      if (t === undefined || !Array.isArray(t.data)) throw new ModelFormatError('invalid_model_file', `tensor '${TORCH_NAMES[p]}' is missing`, TORCH_NAMES[p]);
      return { dtype: 'F64', shape: t.shape, data: Float64Array.from(t.data) };
    };
    const meta = { ...(j.metadata ?? {}) };
    let hyper: unknown = null;
    if (meta.hyperparameters !== undefined) hyper = JSON.parse(meta.hyperparameters);
    for (const k of ['format', 'format_version', 'task', 'model', 'activation', 'inputKind', 'architecture', 'vocab', 'hyperparameters']) delete meta[k];
    return RnnModel.fromTensors(j.spec, j.task, tensorOf, j.vocab, meta, hyper, options.dtype ?? 'float32');
  }

  private static fromTensors(
    spec: ModelSpec,
    task: Task,
    tensorOf: (p: (typeof PARAM_NAMES)[number]) => Tensor,
    vocab: string[] | undefined,
    metadata: Record<string, string>,
    hyperparameters: unknown,
    dtype: Dtype,
  ): RnnModel {
    const layout = paramLayout(spec.inputSize, spec.hiddenSize, spec.outputSize);
    const params = dtype === 'float64' ? new Float64Array(layout.total) : new Float32Array(layout.total);
    for (const v of layout.views) {
      const t = tensorOf(v.name);
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw new ModelFormatError('model_shape_mismatch', `tensor '${v.torchName}' has shape [${t.shape}], expected [${v.shape}]`, v.torchName);
      }
      params.set(t.data as FloatArray, v.offset);
    }
    if (vocab !== undefined && spec.inputKind === 'tokens' && vocab.length !== spec.inputSize) {
      throw new ModelFormatError('model_shape_mismatch', `vocabulary has ${vocab.length} entries, the model's input size is ${spec.inputSize}`, 'vocab');
    }
    const init: RnnModelInit = { spec, task, params, metadata, hyperparameters };
    if (vocab !== undefined) init.vocab = vocab;
    return new RnnModel(init);
  }
}
