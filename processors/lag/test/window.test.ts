import { describe, expect, it } from 'vitest';
import { scan } from '../src/log-reader.ts';
import { PartitionWindow, RateWindow } from '../src/window.ts';

describe('PartitionWindow (Burrow storage ring)', () => {
  it('observes a moved offset or a live owner; an unowned, unmoved partition gets no observation', () => {
    const w = new PartitionWindow({ intervals: 3, minDistanceMs: 0 });
    w.add({ offset: 10, at: 1000, lag: 5, end: 15, owned: false });
    w.add({ offset: 10, at: 2000, lag: 7, end: 17, owned: false });
    expect(w.offsets).toEqual([{ offset: 10, at: 1000, lag: 5 }]);
    w.add({ offset: 10, at: 3000, lag: 8, end: 18, owned: true });
    w.add({ offset: 12, at: 4000, lag: 6, end: 18, owned: false });
    w.add({ offset: 12, at: 5000, lag: 6, end: 18, owned: true });
    // the ring keeps `intervals` observations and `intervals` log ends
    expect(w.offsets.map((o) => o.at)).toEqual([3000, 4000, 5000]);
    expect(w.brokerEnds).toEqual([18, 18, 18]);
    expect(w.samples).toBe(5);
    expect(w.complete).toBe(1);
  });

  it('merges observations closer than min-distance into the previous one, keeping its time', () => {
    const w = new PartitionWindow({ intervals: 5, minDistanceMs: 1000 });
    w.add({ offset: 1, at: 0, lag: 9, end: 10, owned: true });
    w.add({ offset: 2, at: 400, lag: 8, end: 10, owned: true });
    w.add({ offset: 3, at: 900, lag: 7, end: 10, owned: true });
    expect(w.offsets).toEqual([{ offset: 3, at: 0, lag: 7 }]);
    w.add({ offset: 4, at: 1000, lag: 6, end: 10, owned: true });
    expect(w.offsets).toEqual([
      { offset: 3, at: 0, lag: 7 },
      { offset: 4, at: 1000, lag: 6 },
    ]);
  });

  it('rates: records/s over the window, null until two samples, never negative', () => {
    const r = new RateWindow(3);
    r.add(0, 100, 50);
    expect(r.rates()).toEqual({ rateIn: null, rateOut: null });
    r.add(2000, 120, 70);
    expect(r.rates()).toEqual({ rateIn: 10, rateOut: 10 });
    r.add(4000, 120, 0); // offsets reset
    expect(r.rates()).toEqual({ rateIn: 5, rateOut: 0 });
  });
});

type Batch = NonNullable<Parameters<typeof scan>[0]>['records'];
const batch = (
  first: number,
  n: number,
  attributes: number,
  producerId = -1n,
  ts = 1000,
): NonNullable<Batch>[number] => ({
  firstOffset: BigInt(first),
  length: 0,
  partitionLeaderEpoch: 0,
  magic: 2,
  crc: 0,
  attributes,
  lastOffsetDelta: n - 1,
  firstTimestamp: BigInt(ts),
  maxTimestamp: BigInt(ts + n),
  producerId,
  producerEpoch: 0,
  firstSequence: 0,
  records: Array.from({ length: n }, (_, i) => ({
    length: 0,
    attributes: 0,
    timestampDelta: BigInt(i),
    offsetDelta: i,
    key: null,
    value: null,
    headers: [],
  })),
});
const partition = (
  records: NonNullable<Batch>,
  stable: number,
  aborted: { producerId: bigint; firstOffset: bigint }[] = [],
) => ({
  partitionIndex: 0,
  errorCode: 0,
  highWatermark: BigInt(stable),
  lastStableOffset: BigInt(stable),
  logStartOffset: 0n,
  abortedTransactions: aborted,
  preferredReadReplica: -1,
  records,
});

describe('scan: what follows a committed offset', () => {
  const TX = 0x10;
  const MARKER = 0x30;
  it('a commit marker alone after the offset is marker-only', () => {
    expect(scan(partition([batch(0, 5, TX, 7n), batch(5, 1, MARKER, 7n)], 6), 5)).toEqual({ kind: 'none' });
  });
  it('the first record at or after the offset gives the timestamp, inside a batch too', () => {
    expect(scan(partition([batch(0, 5, TX, 7n, 1000), batch(5, 1, MARKER, 7n)], 6), 3)).toEqual({
      kind: 'record',
      timestamp: 1003,
    });
  });
  it('aborted transactions and their markers are skipped', () => {
    const p = partition([batch(5, 3, TX, 9n), batch(8, 1, MARKER, 9n), batch(9, 2, 0, -1n, 5000)], 11, [
      { producerId: 9n, firstOffset: 5n },
    ]);
    expect(scan(p, 5)).toEqual({ kind: 'record', timestamp: 5000 });
    expect(
      scan(partition([batch(5, 3, TX, 9n), batch(8, 1, MARKER, 9n)], 9, [{ producerId: 9n, firstOffset: 5n }]), 5),
    ).toEqual({
      kind: 'none',
    });
  });
  it('a fetch that stops before the stable offset asks for more; an error is unknown', () => {
    expect(scan(partition([batch(5, 1, MARKER, 7n)], 20), 5)).toEqual({ kind: 'more', from: 6 });
    expect(scan({ ...partition([], 20), errorCode: 1 }, 5)).toEqual({ kind: 'unknown' });
    // a response fetched for a lower offset that ends before this one: fetch again from it
    expect(scan(partition([batch(0, 3, 0)], 20), 10)).toEqual({ kind: 'more', from: 10 });
  });
});
