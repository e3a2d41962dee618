// The pieces of the engine (@unroll/rnn) the API uses, in one place.
export {
  DatasetError,
  datasetStats,
  parseCsvSeries,
  parseJsonSequences,
  parseTextCorpus,
  parseTextCorpusBytes,
  splitForValidation,
  SafetensorsError,
  ModelFormatError,
  ModelInputError,
  CheckpointError,
  RnnModel,
  Trainer,
  type Dataset,
} from '@unroll/rnn';
