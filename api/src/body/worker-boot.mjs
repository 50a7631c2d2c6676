// Entry of the body worker thread: the worker is TypeScript like the rest of the API, and a
// worker thread does not inherit the parent's tsx loader on Node 20, so register it here first.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
