import { relative } from 'node:path';
import type { Reporter, TestCase, TestModule, TestRunEndReason, Vitest } from 'vitest/node';

/**
 * The integration tests that may skip, and why: each needs something the harness cannot
 * provide on every machine. Anything else skipped in the `integration` project fails the run with
 * its name, so an environment gap never turns into a green run that tested nothing.
 * (The embedder's Python reference check, which needs a venv, is a unit test — `*.test.ts` —
 * and is not guarded.)
 */
export const SKIP_ALLOW_LIST: readonly { file: string; why: string }[] = [
  {
    file: 'processors/index/test/qdrant.it.test.ts',
    why: 'a real Qdrant server: runs only with QDRANT_URL (no Qdrant ships with the stack)',
  },
  {
    file: 'processors/replay/test/model-swap-qdrant.it.test.ts',
    why: 'the model-swap replay on a real Qdrant server: runs only with QDRANT_URL (no Qdrant ships with the stack)',
  },
  {
    file: 'test/it/api-e2e.it.test.ts',
    why: 'the UCI dataset (/work/shared/data/uci/stories-dev.csv) lives outside the repository',
  },
];

const PROJECT = 'integration';

export function unexpectedSkips(modules: ReadonlyArray<TestModule>, root: string): string[] {
  const out: string[] = [];
  for (const m of modules) {
    if (m.project.name !== PROJECT) continue;
    const file = relative(root, m.moduleId);
    if (SKIP_ALLOW_LIST.some((a) => a.file === file)) continue;
    const tests = [...m.children.allTests()];
    // `.only` elsewhere in the file skips the rest on purpose (a local focus, refused in CI by allowOnly)
    if (tests.some((t) => t.options.mode === 'only')) continue;
    for (const t of tests as TestCase[]) {
      const r = t.result();
      if (r.state !== 'skipped' || t.options.mode === 'todo') continue;
      out.push(`${file} > ${t.fullName}${r.note ? ` (${r.note})` : ''}`);
    }
  }
  return out;
}

/** A vitest reporter: prints and fails on skipped integration tests that are not on the allow-list. */
export default class SkipGuard implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>, _errors: unknown, reason: TestRunEndReason): void {
    const config = this.vitest?.config;
    // a name filter (-t) skips the rest of each file by design; an interrupted run skips the rest
    if (!config || config.testNamePattern || reason === 'interrupted') return;
    const bad = unexpectedSkips(modules, config.root);
    if (!bad.length) return;
    process.stderr.write(
      `\n[skip guard] ${bad.length} integration test(s) skipped that are not on the allow-list ` +
        `(test/src/skip-guard.ts); the harness provides Kafka, PostgreSQL and the registry, so fix the cause:\n` +
        `${bad.map((b) => `  - ${b}`).join('\n')}\n`,
    );
    process.exitCode = 1;
  }
}
