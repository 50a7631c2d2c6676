import { describe, expect, it } from 'vitest';
import { SEMANTIC_PRESET, semanticFromEnv } from '../src/semantic.ts';
import { withRemedy } from '../src/stage.ts';
import { ChangelogOptionsError, ClusterState } from '../src/state.ts';

const T0 = 1_700_000_000_000;
const rec = (itemId: string, title: string, vector?: number[]) => ({
  itemId,
  title,
  publishedAt: T0,
  ...(vector ? { vector } : {}),
});

/** the options mismatch a restore throws (or fails the test) */
function restoreError(...args: Parameters<typeof ClusterState.restore>): ChangelogOptionsError {
  try {
    ClusterState.restore(...args);
  } catch (e) {
    if (e instanceof ChangelogOptionsError) return e;
    throw e;
  }
  throw new Error('restore accepted a changelog written with other options');
}

describe('semantic clustering is the stage default (issue 16)', () => {
  it('CLUSTER_SEMANTIC: unset, empty or 1 → semantic; 0 → words only; anything else is refused', () => {
    expect(semanticFromEnv({})).toBe(true);
    expect(semanticFromEnv({ CLUSTER_SEMANTIC: '' })).toBe(true);
    expect(semanticFromEnv({ CLUSTER_SEMANTIC: '1' })).toBe(true);
    expect(semanticFromEnv({ CLUSTER_SEMANTIC: '0' })).toBe(false);
    expect(() => semanticFromEnv({ CLUSTER_SEMANTIC: 'yes' })).toThrow(/CLUSTER_SEMANTIC/);
  });

  it('a lexical changelog restored by the semantic default names every differing option and says what to do', () => {
    const lexical = new ClusterState();
    lexical.assign(rec('a', 'Fed raises interest rates'));
    const log = lexical.takeChangelog();
    const e = restoreError(log, SEMANTIC_PRESET);
    expect(e.semanticMismatch).toBe('written-lexical');
    expect(e.differences.map((d) => d.option).sort()).toEqual(
      ['decayHours', 'seedThreshold', 'semanticWeight', 'threshold'].sort(),
    );
    expect(e.differences.find((d) => d.option === 'semanticWeight')).toEqual({
      option: 'semanticWeight',
      written: 0,
      configured: 0.75,
    });
    expect(e.message).toMatch(/semanticWeight 0 in the changelog, 0\.75 configured/);
    const told = withRemedy(e, 3);
    expect(told).toBeInstanceOf(ChangelogOptionsError);
    expect(told.message).toMatch(/^generation 3: /);
    expect(told.message).toMatch(/CLUSTER_SEMANTIC=0/);
    expect(told.message).toMatch(/feedlog replay cluster/);
  });

  it('a semantic changelog restored with CLUSTER_SEMANTIC=0 says to drop it; same-kind mismatches name the option', () => {
    const semantic = new ClusterState(SEMANTIC_PRESET);
    semantic.assign(rec('a', 'Fed raises interest rates', [1, 0, 0, 0]));
    const e = restoreError(semantic.takeChangelog(), {});
    expect(e.semanticMismatch).toBe('written-semantic');
    expect(withRemedy(e, 1).message).toMatch(/without CLUSTER_SEMANTIC=0/);

    const stricter = new ClusterState({ threshold: 0.2 });
    stricter.assign(rec('a', 'Fed raises interest rates'));
    const other = restoreError(stricter.snapshot(), {});
    expect(other.semanticMismatch).toBeNull();
    expect(other.differences).toEqual([{ option: 'threshold', written: 0.2, configured: 0.1 }]);
    expect(withRemedy(other, 1).message).toMatch(/options the generation was written with/);
  });
});
