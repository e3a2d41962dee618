// Errors the engine throws on purpose. Each has a machine-readable `code`.

export type NonFiniteCode = 'non_finite_loss' | 'non_finite_gradient';

/**
 * A loss or gradient became NaN/±Infinity. Thrown BEFORE anything is written into the weights
 * or the optimizer state, and before the data position advances: the trainer is unchanged.
 */
export class NonFiniteError extends Error {
  constructor(
    readonly code: NonFiniteCode,
    /** 0-based epoch. */
    readonly epoch: number,
    /** 0-based step within the epoch. */
    readonly step: number,
    /** PyTorch name of the first non-finite gradient (null for the loss). */
    readonly param: string | null,
    /** Index within that parameter (null for the loss). */
    readonly index: number | null,
    readonly value: number,
  ) {
    super(
      code === 'non_finite_loss'
        ? `non-finite loss (${value}) at epoch ${epoch}, step ${step}`
        : `non-finite gradient (${value}) in ${param}[${index}] at epoch ${epoch}, step ${step}`,
    );
    this.name = 'NonFiniteError';
  }
}

/** A TrainSpec that cannot run (on this dataset). `field` is a dotted path into the spec. */
export class SpecError extends Error {
  readonly code = 'invalid_spec';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'SpecError';
  }
}

export type CheckpointErrorCode = 'checkpoint_corrupt' | 'checkpoint_unsupported_version' | 'checkpoint_dataset_mismatch';

export class CheckpointError extends Error {
  constructor(
    readonly code: CheckpointErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CheckpointError';
  }
}

export type ModelFormatErrorCode = 'invalid_model_file' | 'model_metadata_missing' | 'model_shape_mismatch';

/** A weights file (safetensors / JSON) that cannot be loaded as a model. */
export class ModelFormatError extends Error {
  constructor(
    readonly code: ModelFormatErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ModelFormatError';
  }
}

/** Bad arguments to a model call (predict / sample): `field` names the argument. */
export class ModelInputError extends Error {
  readonly code = 'invalid_model_input';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = 'ModelInputError';
  }
}
