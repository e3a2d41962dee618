// Entry of a compute thread. Node 20 does not apply `--import tsx` loader hooks to a worker
// thread's entry, so this plain-JS file registers tsx in the thread, then loads the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import(new URL('./thread.ts', import.meta.url).href);
