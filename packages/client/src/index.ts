export { UnrollClient, type UnrollClientOptions, type Page, type UploadDatasetOptions, type WeightsOptions, type PredictInput, type SampleInput } from './client.ts';
export { UnrollApiError } from './errors.ts';
export type { WatchOptions } from './watch.ts';
export type { UploadSource } from './upload-source.ts';
export { contentTypeForFileName } from './upload-source.ts';
export type { WebSocketFactory, WebSocketLike } from './websocket.ts';
