// @unroll/rnn — the BPTT engine. Everything public is re-exported here; import from
// '@unroll/rnn', not from deep paths.

// contracts
export * from './spec.ts';
export { PARAM_NAMES, TORCH_NAMES, arrayCtor, paramLayout, viewsOf } from './layout.ts';
export type { Dtype, FloatArray, FloatArrayConstructor, ParamLayout, ParamName, ParamView } from './layout.ts';

// training
export { Trainer, validateTrainSpec } from './trainer.ts';
export type { RestoreOptions, RunEpochHooks, TrainerOptions } from './trainer.ts';
export type { EpochMetrics, EvalMetrics, SaturationMeasure, StepMetrics } from './diagnostics.ts';
export { CHECKPOINT_MAGIC, CHECKPOINT_VERSION, checkpointBackend, decodeCheckpoint, encodeCheckpoint } from './checkpoint.ts';
export type { TrainerState } from './checkpoint.ts';
export { CheckpointError, ModelFormatError, ModelInputError, NonFiniteError, SpecError } from './errors.ts';
export type { CheckpointErrorCode, ModelFormatErrorCode, NonFiniteCode } from './errors.ts';

// model
export { MODEL_FORMAT_VERSION, MODEL_JSON_FORMAT, RnnModel } from './model.ts';
export type { ImportOptions, ModelJson, PredictResult, RnnModelInit } from './model.ts';

// compute backends: createDefaultKernels is what services train with (WASM SIMD, JS fallback)
export {
  BACKEND_REQUESTS, TWO_THREAD_MIN_HIDDEN, TWO_THREAD_MIN_ROWS, TWO_THREAD_MIN_WINDOW_FLOPS, createDefaultKernels, isBackendRequest, threadsFor,
} from './kernels/select.ts';
export type { BackendRequest, DefaultKernelsOptions } from './kernels/select.ts';
export { createWasmKernels } from './kernels/wasm/backend.ts';
export type { WasmKernels, WasmKernelsOptions } from './kernels/wasm/backend.ts';

// engine internals useful to tools and tests
export type { AdamStepScalars, Kernels } from './kernels/kernels.ts';
export { jsKernels } from './kernels/js.ts';
export { outputBackward, outputForward, rnnBackward, rnnForward } from './rnn.ts';
export type { RecurrentWeights, StepInputs } from './rnn.ts';
export { lossBackward, lossForward, lossKindOf, reductionScale } from './loss.ts';
export type { LossKind, LossTargets } from './loss.ts';
export { BpttWorkspace, maxWindowLength, validateBptt, windowAfter, windowCount, windowForwardBackward } from './window.ts';
export type { ParamViews, WindowOptions, WindowResult, WindowShape, WindowSpan } from './window.ts';
export { largestSingularValue } from './diagnostics.ts';
export { WindowSource, datasetSizes } from './batches.ts';

// leaves: randomness, init, optimizers, schedules, clipping, formats, sampling
export { Prng } from './prng.ts';
export { initParams } from './init.ts';
export { DEFAULT_LR, OptimizerSpecError, createOptimizer, optimizerBufferNames, withOptimizerDefaults } from './optim.ts';
export type { Optimizer, OptimizerBuffer, OptimizerSpecInput, OptimizerState, ResolvedOptimizerSpec } from './optim.ts';
export { learningRateAt } from './schedule.ts';
export { clipGradNorm, clipGradValue, clipToNorm, findNonFinite, globalNorm, paramNorms, sumSquaresByParam } from './clip.ts';
export { SafetensorsError, decodeSafetensors, encodeSafetensors } from './safetensors.ts';
export type { SafeDtype, Tensor, TensorData } from './safetensors.ts';
export { argmax, sampleFromLogits, softmaxInto, topKIndices } from './sampling.ts';

// data
export { DatasetError, datasetStats, splitForValidation } from './data/dataset.ts';
export type { Dataset, DatasetErrorLocation, DatasetStats, Sequence, SequenceSet, TargetMode, TokenStream, VectorStream } from './data/dataset.ts';
export { decodeTokens, encodeText, parseTextCorpus, parseTextCorpusBytes, textCorpusBuffer } from './data/text.ts';
export { parseJsonSequences } from './data/json.ts';
export { parseCsvSeries } from './data/csv.ts';

// memory: what a run will allocate, checked before it is accepted and before it trains
export { WASM_MAX_BYTES, estimateTrainingMemory, formatBytes, judgeMemory, memoryShapeOf } from './memory-estimate.ts';
export type { EstimateOptions, MemoryBreakdown, MemoryDataShape, MemoryVerdict, TrainingMemoryEstimate } from './memory-estimate.ts';
