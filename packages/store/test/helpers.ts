export * from '../src/index.ts';
export { freePort as freePortFree } from '@unroll/testing';
