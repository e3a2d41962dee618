export { loadConfig, ConfigSchema, ConfigError, DEFAULT_WORKER_MEMORY_BUDGET_BYTES, type Config } from './config.ts';
export {
  createRedis,
  redisOptions,
  reconnectDelay,
  assertRedisReachable,
  redactUrl,
  RedisUnreachableError,
  checkRedisDurability,
  isRedisConnectionError,
  type RedisDurability,
  type RedisRole,
} from './redis.ts';
export { keys, blobKeys, checkpointEpoch, KEY_PREFIX, QUEUE_NAME, QUEUE_PREFIX, type TrainJobData } from './keys.ts';
export { createBlobStore } from './blob-root.ts';
export { newJobId, newDatasetId } from './ids.ts';
export {
  assertValidBlobKey,
  BlobKeyError,
  BlobTooLargeError,
  type BlobStore,
  type BlobInfo,
  type BlobStat,
  type PutOptions,
} from './blob-store.ts';
export { FsBlobStore } from './fs-blob-store.ts';
export { OrphanSweeper, type OrphanSweepResult } from './orphan-sweeper.ts';
export {
  JobStore,
  ActiveJobsCapError,
  parseJobHash,
  toPublicJob,
  type JobRecord,
  type JobStoreOptions,
  type FenceOption,
  type TransitionOptions,
} from './job-store.ts';
export { EventLog, tailEvents } from './event-log.ts';
export { DatasetStore, StorageQuotaError, parseDatasetHash, toPublicDataset, type DatasetRecord } from './dataset-store.ts';
export { JobNotFoundError, DatasetNotFoundError, IllegalTransitionError, StaleFenceError } from './errors.ts';
export { InvalidCursorError, encodeCursor, decodeCursor, type Page } from './pagination.ts';
export {
  ApiKeyRing,
  ApiKeyConfigError,
  ensureDefaultKey,
  loadApiKeys,
  parseApiKeysEnv,
  parseApiKeysFile,
  hashApiKey,
  API_KEYS_FILE_NAME,
  type ApiKeyEntry,
} from './api-keys.ts';
