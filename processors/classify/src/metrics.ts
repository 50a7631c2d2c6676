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
  /** mean F1 over every class of the label set: a class never predicted and absent from the truth counts 0 */
  macroF1: number;
  /** mean F1 over the classes present in the truth only (the figure printed before issue 16; flatters a hold-out missing a class) */
  macroF1Present: number;
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
  // Macro-F1 over the whole label set: a class the hold-out lacks scores 0 rather than vanishing from the
  // mean, so a split that happens to miss the hard class cannot raise the figure (scikit-learn's
  // f1_score(average='macro', labels=all) with zero_division=0).
  const macroF1 = C === 0 ? 0 : perClass.reduce((a, m) => a + m.f1, 0) / C;
  const present = perClass.filter((m) => m.support > 0);
  const macroF1Present = present.length === 0 ? 0 : present.reduce((a, m) => a + m.f1, 0) / present.length;
  return {
    n: truth.length,
    accuracy: truth.length === 0 ? 0 : correct / truth.length,
    macroF1,
    macroF1Present,
    perClass,
    confusion,
  };
}

/**
 * Expected calibration error: rows binned by their top probability into `bins` equal-width bins;
 * Σ (bin rows / n) · |accuracy in bin − mean confidence in bin|. 0 = confidences are frequencies.
 */
export function expectedCalibrationError(
  confidence: ArrayLike<number>,
  correct: ArrayLike<boolean>,
  bins = 15,
): number {
  const n = confidence.length;
  if (n === 0) return 0;
  const cnt = new Float64Array(bins);
  const conf = new Float64Array(bins);
  const acc = new Float64Array(bins);
  for (let i = 0; i < n; i++) {
    const p = confidence[i]!;
    const b = Math.min(bins - 1, Math.max(0, Math.floor(p * bins)));
    cnt[b]!++;
    conf[b]! += p;
    if (correct[i]) acc[b]!++;
  }
  let ece = 0;
  for (let b = 0; b < bins; b++) if (cnt[b]! > 0) ece += Math.abs(acc[b]! - conf[b]!) / n;
  return ece;
}
