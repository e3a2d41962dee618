export * from './errors.ts';
export * from './job-spec.ts';
export * from './job.ts';
export * from './events.ts';
export * from './dataset.ts';
export * from './pagination.ts';
export * from './inference.ts';
export * from './examples.ts';
