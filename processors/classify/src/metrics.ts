export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Metrics {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[truth][predicted] */
  confusion: number[][];
}

export function evaluate(truth: ArrayLike<number>, pred: ArrayLike<number>, labels: readonly string[]): Metrics {
  if (truth.length !== pred.length) throw new RangeError('truth and pred differ in length');
  const C = labels.length;
  const confusion = Array.from({ length: C }, () => new Array<number>(C).fill(0));
  let correct = 0;
  for (let i = 0; i < truth.length; i++) {
    const t = truth[i]!;
    const p = pred[i]!;
    confusion[t]![p]!++;
    if (t === p) correct++;
  }
  const perClass: ClassMetrics[] = labels.map((label, c) => {
    const tp = confusion[c]![c]!;
    let fp = 0;
    let fn = 0;
    for (let k = 0; k < C; k++) {
      if (k === c) continue;
      fp += confusion[k]![c]!;
      fn += confusion[c]![k]!;
    }
    const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
    const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { label, precision, recall, f1, support: tp + fn };
  });
  // Macro-F1 over the classes present in the truth (a class absent from the test set has no defined F1).
  const present = perClass.filter((m) => m.support > 0);
  const macroF1 = present.length === 0 ? 0 : present.reduce((a, m) => a + m.f1, 0) / present.length;
  return { n: truth.length, accuracy: truth.length === 0 ? 0 : correct / truth.length, macroF1, perClass, confusion };
}
