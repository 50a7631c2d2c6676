// Entry of a classify pool thread (pool.ts): the thread is TypeScript like the stage, and a worker
// thread does not inherit the parent's tsx loader on Node 20, so register it here first.
import { register } from 'tsx/esm/api';

register();
await import('./pool-worker.ts');
