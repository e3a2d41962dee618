#!/usr/bin/env node
// The `unroll` command: runs the TypeScript sources through tsx, like every process of the project.
import { register } from 'tsx/esm/api';

register();
await import('../src/main.ts');
