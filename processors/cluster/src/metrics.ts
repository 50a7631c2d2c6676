/**
 * External clustering metrics computed from the contingency table of predicted clusters ×
 * gold classes. All are O(n) in the number of items.
 *
 * - pairwise: over all unordered item pairs; a pair is positive when both items share a
 *   predicted cluster, relevant when they share a gold class.
 * - B-cubed (Bagga & Baldwin 1998, Amigó et al. 2009): per-item precision
 *   |C(i) ∩ G(i)| / |C(i)| and recall |C(i) ∩ G(i)| / |G(i)|, averaged over items; F1 is the
 *   harmonic mean of the two averages.
 * - ARI (Hubert & Arabie 1985), the same formula as scikit-learn's adjusted_rand_score.
 */

export interface PRF {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClusteringMetrics {
  n: number;
  predictedClusters: number;
  goldClusters: number;
  pairwise: PRF;
  bcubed: PRF;
  ari: number;
}

const comb2 = (k: number): number => (k * (k - 1)) / 2;
const f1 = (p: number, r: number): number => (p + r === 0 ? 0 : (2 * p * r) / (p + r));

/** `predicted[i]` and `gold[i]` are the cluster labels of item i. */
export function evaluateClustering(predicted: readonly string[], gold: readonly string[]): ClusteringMetrics {
  if (predicted.length !== gold.length) throw new Error('predicted and gold must have the same length');
  const n = predicted.length;
  const predSize = new Map<string, number>();
  const goldSize = new Map<string, number>();
  const cell = new Map<string, number>(); // key: pred \u0000 gold
  for (let i = 0; i < n; i++) {
    const p = predicted[i]!;
    const g = gold[i]!;
    predSize.set(p, (predSize.get(p) ?? 0) + 1);
    goldSize.set(g, (goldSize.get(g) ?? 0) + 1);
    const k = `${p}\u0000${g}`;
    cell.set(k, (cell.get(k) ?? 0) + 1);
  }

  let sumCells = 0;
  let bcP = 0;
  let bcR = 0;
  for (const [k, nij] of cell) {
    const sep = k.indexOf('\u0000');
    const a = predSize.get(k.slice(0, sep))!;
    const b = goldSize.get(k.slice(sep + 1))!;
    sumCells += comb2(nij);
    bcP += (nij * nij) / a;
    bcR += (nij * nij) / b;
  }
  let sumPred = 0;
  for (const a of predSize.values()) sumPred += comb2(a);
  let sumGold = 0;
  for (const b of goldSize.values()) sumGold += comb2(b);

  // Pairwise: with no positive (or no relevant) pair, precision (recall) is vacuously 1.
  const pwP = sumPred === 0 ? 1 : sumCells / sumPred;
  const pwR = sumGold === 0 ? 1 : sumCells / sumGold;

  const bP = n === 0 ? 1 : bcP / n;
  const bR = n === 0 ? 1 : bcR / n;

  const total = comb2(n);
  const expected = total === 0 ? 0 : (sumPred * sumGold) / total;
  const maxIndex = (sumPred + sumGold) / 2;
  // Degenerate partitions (e.g. both all-singletons): scikit-learn returns 1.0.
  const ari = maxIndex - expected === 0 ? 1 : (sumCells - expected) / (maxIndex - expected);

  return {
    n,
    predictedClusters: predSize.size,
    goldClusters: goldSize.size,
    pairwise: { precision: pwP, recall: pwR, f1: f1(pwP, pwR) },
    bcubed: { precision: bP, recall: bR, f1: f1(bP, bR) },
    ari,
  };
}
