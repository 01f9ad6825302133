/**
 * The one contract every online store adapter meets (embedded, Redis standalone, Redis
 * Cluster). Each adapter's test file calls `onlineStoreContract` with a way to open a store
 * over the same backing data (so a second instance is a second writer / a reopened store).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import type { OnlineReader, OnlineWriter, OnlineWrite } from '../../src/online/ports.ts';
import { RowEncoder, decodeRow, rowEventMs } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { keyList } from '../support/key-list.ts';

export type Store = OnlineReader & OnlineWriter;

export interface ContractTarget {
  /** Open a store over the shared backing data; each call returns a new instance. */
  open(): Promise<Store>;
  /** Tear down the backing data (servers, directories). */
  teardown?(): Promise<void>;
}

const features = [
  { name: 'trips', type: 'int64' as const },
  { name: 'rating', type: 'float64' as const },
];
const keys = [{ name: 'rider_id', type: 'int64' as const }];
const entity = (id: number) => encodeEntityKey(keys, [id]);

function rowOf(eventMs: number, createdMs: number | null, trips: number | null, rating = 4.5): Buffer {
  return Buffer.from(new RowEncoder(features, 256).encode(eventMs, createdMs, [trips === null ? null : BigInt(trips), rating]));
}

function trips(row: Buffer | null): bigint | null | undefined {
  return row ? (decodeRow(row, 2).values[0] as bigint | null) : undefined;
}

export function onlineStoreContract(name: string, makeTarget: () => Promise<ContractTarget>): void {
  describe(`online store contract: ${name}`, () => {
    let target: ContractTarget;
    let store: Store;
    let view = 0;
    // Each test writes to its own view name, so tests do not see each other's rows.
    const freshView = () => `v${++view}_${Math.random().toString(36).slice(2, 6)}@1`;

    // Starting a Redis Cluster (redis-cli --cluster create, then waiting for cluster_state:ok)
    // can take longer than vitest's 10 s hook default on a loaded 2-core machine.
    beforeAll(async () => {
      target = await makeTarget();
      store = await target.open();
    }, 60_000);
    afterAll(async () => {
      await store?.close();
      await target?.teardown?.();
    });

    it('returns null for what was never written and the exact bytes for what was', async () => {
      const v = freshView();
      const row = rowOf(1000, 1000, 7);
      expect(await store.writeRows([{ view: v, entity: entity(1), row }])).toEqual({ written: 1, stale: 0 });
      const got = await store.readRows({ views: [v], entityKeys: [keyList([entity(1), entity(2)])] });
      expect(got[0][0]!.equals(row)).toBe(true);
      expect(got[0][1]).toBeNull();
    });

    it('newer event time wins; a replay of older rows never regresses; ties go to created time', async () => {
      const v = freshView();
      const e = entity(10);
      await store.writeRows([{ view: v, entity: e, row: rowOf(2000, 2000, 2) }]);
      expect(await store.writeRows([{ view: v, entity: e, row: rowOf(1000, 9999, 1) }])).toEqual({ written: 0, stale: 1 });
      expect(trips((await store.readRows({ views: [v], entityKeys: [keyList([e])] }))[0][0])).toBe(2n);
      // same event time, later created time: a correction, wins
      expect((await store.writeRows([{ view: v, entity: e, row: rowOf(2000, 3000, 3) }])).written).toBe(1);
      // same event and created time: the stored row stays (idempotent replay)
      expect((await store.writeRows([{ view: v, entity: e, row: rowOf(2000, 3000, 99) }])).stale).toBe(1);
      // same event time, earlier or no created time: stale
      expect((await store.writeRows([{ view: v, entity: e, row: rowOf(2000, null, 98) }])).stale).toBe(1);
      expect(trips((await store.readRows({ views: [v], entityKeys: [keyList([e])] }))[0][0])).toBe(3n);
      // a null value is still a row
      await store.writeRows([{ view: v, entity: e, row: rowOf(5000, null, null) }]);
      expect(trips((await store.readRows({ views: [v], entityKeys: [keyList([e])] }))[0][0])).toBeNull();
    });

    it('within one batch, the newest row per entity wins whatever the order', async () => {
      const v = freshView();
      const e = entity(20);
      const res = await store.writeRows([
        { view: v, entity: e, row: rowOf(3000, 0, 3) },
        { view: v, entity: e, row: rowOf(1000, 0, 1) },
        { view: v, entity: e, row: rowOf(2000, 0, 2) },
      ]);
      expect(res).toEqual({ written: 1, stale: 2 });
      expect(trips((await store.readRows({ views: [v], entityKeys: [keyList([e])] }))[0][0])).toBe(3n);
    });

    for (const atomic of [false, true]) {
      it(`a large mixed batch${atomic ? ' (atomic)' : ''}: newer and older rows, duplicates far apart, several views`, async () => {
        const v = freshView();
        const w = freshView();
        const n = 120;
        // Stored first: event time 5000 for every entity of v.
        await store.writeRows(Array.from({ length: n }, (_, i) => ({ view: v, entity: entity(7000 + i), row: rowOf(5000, 0, 5000) })));
        // Then one batch (several script calls on Redis): per entity of v an older row (stale),
        // a newer row, and a duplicate placed far away, newest first for even ids and last for
        // odd ones; rows of a second view interleaved in runs.
        const batch: OnlineWrite[] = [];
        const later: OnlineWrite[] = [];
        for (let i = 0; i < n; i++) {
          const e = entity(7000 + i);
          const newest = rowOf(9000 + i, 0, 9000 + i);
          const middle = rowOf(6000, 0, 6000);
          batch.push({ view: v, entity: e, row: rowOf(4000, 9, 4000) });
          if (i % 2 === 0) {
            batch.push({ view: v, entity: e, row: newest });
            later.push({ view: v, entity: e, row: middle });
          } else {
            batch.push({ view: v, entity: e, row: middle });
            later.push({ view: v, entity: e, row: newest });
          }
          if (i % 7 === 0) batch.push({ view: w, entity: e, row: rowOf(100 + i, 0, 100 + i) });
        }
        batch.push(...later);
        // Expected counts from applying the batch row by row (duplicates are applied in order).
        const model = new Map<string, number>();
        for (let i = 0; i < n; i++) model.set(`${v}/${entity(7000 + i).toString('hex')}`, 5000);
        let expectWritten = 0;
        for (const r of batch) {
          const k = `${r.view}/${r.entity.toString('hex')}`;
          const cur = model.get(k);
          if (cur === undefined || rowEventMs(r.row) > cur) {
            expectWritten++;
            model.set(k, rowEventMs(r.row));
          }
        }
        expect(expectWritten).toBeGreaterThan(n); // the batch really mixes written and stale rows
        expect(batch.length - expectWritten).toBeGreaterThan(n);
        const res = await store.writeRows(batch, { atomic });
        expect(res).toEqual({ written: expectWritten, stale: batch.length - expectWritten });
        const es = Array.from({ length: n }, (_, i) => entity(7000 + i));
        const got = await store.readRows({ views: [v, w], entityKeys: [keyList(es), keyList(es)] });
        expect(got[0].map(trips)).toEqual(es.map((_, i) => BigInt(9000 + i)));
        expect(got[1].map(trips)).toEqual(es.map((_, i) => (i % 7 === 0 ? BigInt(100 + i) : undefined)));
      });
    }

    it('view versions and views never collide; shared and separate entity key lists both work', async () => {
      const base = freshView().slice(0, -2);
      const v1 = `${base}@1`;
      const v2 = `${base}@2`;
      const other = freshView();
      const e = entity(30);
      await store.writeRows([
        { view: v1, entity: e, row: rowOf(1000, 0, 1) },
        { view: v2, entity: e, row: rowOf(1000, 0, 2) },
        { view: other, entity: e, row: rowOf(1000, 0, 3) },
      ]);
      const shared = [e, entity(31)];
      const got = await store.readRows({ views: [v1, v2, other], entityKeys: [keyList(shared), keyList(shared), keyList([entity(31), e])] });
      expect(got.map((r) => r.map(trips))).toEqual([[1n, undefined], [2n, undefined], [undefined, 3n]]);
    });

    it('readSpans answers the same rows as readRows, as spans of one buffer (views first, then entity rows)', async () => {
      const v1 = freshView();
      const v2 = freshView();
      const other = freshView();
      const a = entity(40);
      const b = entity(41);
      const c = entity(42);
      await store.writeRows([
        { view: v1, entity: a, row: rowOf(1000, 0, 1) },
        { view: v2, entity: b, row: rowOf(1000, 0, 2) },
        { view: other, entity: c, row: rowOf(1000, 0, 3) },
        { view: other, entity: a, row: rowOf(1000, 0, 4) },
      ]);
      const shared = [a, b, c];
      // Shared and separate key arrays, of different lengths, and a duplicate entity.
      const batch = { views: [v1, v2, other], entityKeys: [keyList(shared), keyList(shared), keyList([c, a, a, b])] };
      const rows = await store.readRows(batch);
      const spans = new Int32Array(2 * 10).fill(7); // no stale slot may survive
      const data = await store.readSpans(batch, spans);
      const fromSpans: (Buffer | null)[] = [];
      for (let r = 0; r < 10; r++) fromSpans.push(spans[2 * r] < 0 ? null : data.subarray(spans[2 * r], spans[2 * r + 1]));
      expect(fromSpans).toEqual(rows.flat());
      expect(fromSpans.map(trips)).toEqual([1n, undefined, undefined, undefined, 2n, undefined, 3n, 4n, 4n, undefined]);
      for (let r = 0; r < 10; r++) if (fromSpans[r] === null) expect([spans[2 * r], spans[2 * r + 1]]).toEqual([-1, -1]);
      // Nothing stored at all, and nothing asked.
      expect(await store.readSpans({ views: [freshView()], entityKeys: [keyList([a])] }, spans)).toBeInstanceOf(Buffer);
      expect([spans[0], spans[1]]).toEqual([-1, -1]);
      expect((await store.readSpans({ views: [v1], entityKeys: [keyList([])] }, spans)).length).toBe(0);
    });

    it('reads and writes a batch of many entities', async () => {
      const v = freshView();
      const writes: OnlineWrite[] = [];
      for (let i = 0; i < 500; i++) writes.push({ view: v, entity: entity(1000 + i), row: rowOf(1000 + i, 0, i) });
      expect((await store.writeRows(writes)).written).toBe(500);
      const got = await store.readRows({ views: [v], entityKeys: [keyList(writes.map((w) => w.entity))] });
      expect(got[0].map((r) => rowEventMs(r!))).toEqual(writes.map((_, i) => 1000 + i));
    });

    it('two concurrent writers converge on the newest row per entity', async () => {
      const v = freshView();
      const other = await target.open();
      try {
        const n = 200;
        const versions = [1, 2, 3, 4, 5, 6];
        const mk = (order: number[]) => order.flatMap((t) => Array.from({ length: n }, (_, i) => ({ view: v, entity: entity(5000 + i), row: rowOf(t * 1000, (i * 7 + t) % 5, t) })));
        // Two writers, opposite orders, several interleaved calls each.
        const a = mk(versions);
        const b = mk([...versions].reverse());
        const calls: Promise<unknown>[] = [];
        for (let k = 0; k < a.length; k += 150) {
          calls.push(store.writeRows(a.slice(k, k + 150)));
          calls.push(other.writeRows(b.slice(k, k + 150)));
        }
        await Promise.all(calls);
        const got = await store.readRows({ views: [v], entityKeys: [keyList(Array.from({ length: n }, (_, i) => entity(5000 + i)))] });
        expect(got[0].every((r) => trips(r) === 6n)).toBe(true);
      } finally {
        await other.close();
      }
    });

    it('keeps data across reopening', async () => {
      const v = freshView();
      await store.writeRows([{ view: v, entity: entity(40), row: rowOf(1000, 0, 40) }]);
      const again = await target.open();
      try {
        expect(trips((await again.readRows({ views: [v], entityKeys: [keyList([entity(40)])] }))[0][0])).toBe(40n);
        await again.ping();
      } finally {
        await again.close();
      }
    });
  });
}
