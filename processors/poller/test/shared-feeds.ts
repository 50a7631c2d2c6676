import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { sharedFeedsDir } from '../src/check.ts';

/**
 * The shared feeds folder for tests that need the real files. Where ../shared/data exists (the
 * development machines and CI) its absence is a failure, never a silent skip; only a checkout
 * with no shared data at all skips these tests, and says so.
 */
export function sharedFeedsForTests(): string | undefined {
  const dir = sharedFeedsDir();
  if (dir) return dir;
  const shared = resolve(import.meta.dirname, '../../../../shared/data');
  if (existsSync(shared) || existsSync('/work/shared/data'))
    throw new Error(`../shared/data exists but its feeds folder (with CHECK.txt) was not found`);
  console.warn('no ../shared/data beside the repository: the real-feed tests are skipped');
  return undefined;
}
