import { mulberry32, shuffleInPlace } from './rng.ts';

export interface Split {
  train: number[];
  test: number[];
}

/** Row-level split, stratified by label. */
export function stratifiedSplit(labels: readonly number[], testFraction: number, seed: number): Split {
  const rand = mulberry32(seed);
  const byClass = new Map<number, number[]>();
  labels.forEach((y, i) => {
    const a = byClass.get(y);
    if (a) a.push(i);
    else byClass.set(y, [i]);
  });
  const train: number[] = [];
  const test: number[] = [];
  for (const y of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(y)!;
    shuffleInPlace(rows, rand);
    const nTest = Math.round(rows.length * testFraction);
    test.push(...rows.slice(0, nTest));
    train.push(...rows.slice(nTest));
  }
  return { train: train.sort((a, b) => a - b), test: test.sort((a, b) => a - b) };
}

/**
 * Group split (e.g. by UCI STORY): whole groups go to one side, so near-duplicate rows never straddle it.
 * Groups are shuffled with the seed and assigned greedily, per majority label, until each label's test
 * share reaches `testFraction` of its rows.
 */
export function groupSplit(
  labels: readonly number[],
  groups: readonly string[],
  testFraction: number,
  seed: number,
): Split {
  const members = new Map<string, number[]>();
  groups.forEach((g, i) => {
    const a = members.get(g);
    if (a) a.push(i);
    else members.set(g, [i]);
  });
  const names = [...members.keys()].sort();
  shuffleInPlace(names, mulberry32(seed));
  const total = new Map<number, number>();
  for (const y of labels) total.set(y, (total.get(y) ?? 0) + 1);
  const inTest = new Map<number, number>();
  const testGroups = new Set<string>();
  for (const g of names) {
    const rows = members.get(g)!;
    const y = majority(rows.map((i) => labels[i]!));
    const want = (total.get(y) ?? 0) * testFraction;
    const have = inTest.get(y) ?? 0;
    if (have < want && have + rows.length / 2 <= want) {
      testGroups.add(g);
      inTest.set(y, have + rows.length);
    }
  }
  const train: number[] = [];
  const test: number[] = [];
  groups.forEach((g, i) => {
    (testGroups.has(g) ? test : train).push(i);
  });
  return { train, test };
}

/**
 * k folds over the given rows; with groups, whole groups stay in one fold (stratified group k-fold: each
 * group goes, largest first, to the fold holding the fewest rows of the group's majority label, so every
 * fold keeps a similar label mix). `labels` is needed for that stratification; without it folds balance size.
 */
export function kFolds(
  rows: readonly number[],
  k: number,
  seed: number,
  groups?: readonly string[],
  labels?: readonly number[],
): Split[] {
  const rand = mulberry32(seed);
  const foldOf = new Map<number, number>();
  if (groups) {
    const names = [...new Set(rows.map((i) => groups[i]!))].sort();
    shuffleInPlace(names, rand);
    const members = new Map<string, number[]>();
    for (const i of rows) {
      const a = members.get(groups[i]!);
      if (a) a.push(i);
      else members.set(groups[i]!, [i]);
    }
    names.sort((a, b) => members.get(b)!.length - members.get(a)!.length);
    const load = new Map<number, number[]>();
    const total = new Array<number>(k).fill(0);
    const gFold = new Map<string, number>();
    for (const g of names) {
      const m = members.get(g)!;
      const y = labels ? majority(m.map((i) => labels[i]!)) : 0;
      let perLabel = load.get(y);
      if (!perLabel) {
        perLabel = new Array<number>(k).fill(0);
        load.set(y, perLabel);
      }
      let f = 0;
      for (let j = 1; j < k; j++) {
        if (perLabel[j]! < perLabel[f]! || (perLabel[j] === perLabel[f] && total[j]! < total[f]!)) f = j;
      }
      gFold.set(g, f);
      perLabel[f]! += m.length;
      total[f]! += m.length;
    }
    for (const i of rows) foldOf.set(i, gFold.get(groups[i]!)!);
  } else {
    const order = [...rows];
    shuffleInPlace(order, rand);
    order.forEach((i, n) => {
      foldOf.set(i, n % k);
    });
  }
  return Array.from({ length: k }, (_, f) => ({
    train: rows.filter((i) => foldOf.get(i) !== f),
    test: rows.filter((i) => foldOf.get(i) === f),
  }));
}

function majority(ys: number[]): number {
  const count = new Map<number, number>();
  for (const y of ys) count.set(y, (count.get(y) ?? 0) + 1);
  let best = ys[0]!;
  for (const [y, n] of count) if (n > (count.get(best) ?? 0) || (n === count.get(best) && y < best)) best = y;
  return best;
}
