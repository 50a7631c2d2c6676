import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { DEFAULT_FIXTURE, DEFAULT_MODEL_FILE, ensureDefaultModel } from '../src/default-model.ts';
import { evaluateClassifier, registerClassifyEval } from '../src/eval-cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'feedlog-eval-classify-'));
ensureDefaultModel(dir);
const model = join(dir, DEFAULT_MODEL_FILE);

describe('eval classify (issue 16)', () => {
  it('scores an artifact on a labelled file: every row, a full confusion matrix, ECE in [0, 1]', () => {
    const r = evaluateClassifier({ data: DEFAULT_FIXTURE, model });
    expect(r.metrics.n).toBe(160);
    expect(r.metrics.confusion.flat().reduce((a, b) => a + b, 0)).toBe(160);
    expect(r.metrics.perClass.map((c) => c.label).sort()).toEqual(
      ['business', 'entertainment', 'health', 'science-tech'].sort(),
    );
    expect(r.metrics.accuracy).toBeGreaterThan(0.8); // its own training data
    expect(r.ece).toBeGreaterThanOrEqual(0);
    expect(r.ece).toBeLessThanOrEqual(1);
    expect(r.unknownLabels).toEqual({});
  });

  it('counts rows of a label the model does not know as errors, and says so', () => {
    const f = join(dir, 'extra.csv');
    writeFileSync(f, 'label,title\nsports,Team wins the cup final\nbusiness,Central bank holds interest rates\n');
    const r = evaluateClassifier({ data: f, model });
    expect(r.unknownLabels).toEqual({ sports: 1 });
    expect(r.metrics.perClass.find((c) => c.label === 'sports')?.recall).toBe(0);
    expect(r.metrics.macroF1).toBeLessThan(r.metrics.accuracy);
  });

  it('prints JSON, and rejects a missing model with a clear message', async () => {
    let out = '';
    const p = new Command().exitOverride().configureOutput({ writeErr: () => {} });
    registerClassifyEval(p, (s) => {
      out += s;
    });
    await p.parseAsync(['node', 'f', 'eval', 'classify', '--data', DEFAULT_FIXTURE, '--model', model, '--json']);
    expect(JSON.parse(out).metrics.n).toBe(160);
    await expect(
      p.parseAsync(['node', 'f', 'eval', 'classify', '--data', DEFAULT_FIXTURE, '--model', join(dir, 'none.flcm')]),
    ).rejects.toThrow(/model artifact not found/);
  });
});
