/**
 * Embedded store expiry: rows of entities that stop arriving are deleted by a bounded sweep on
 * writes and on open; an expiry only moves later; rows without expiry never expire.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { RowEncoder } from '../../src/online/row-codec.ts';
import { encodeEntityKey } from '../../src/online/entity-key.ts';
import { pushRows } from '../../src/materialize/push.ts';
import { buildSnapshot } from '../support/snapshot.ts';
import { keyList } from '../support/key-list.ts';

const enc = new RowEncoder([{ name: 'x', type: 'int64' }]);
const row = (t: number) => Buffer.from(enc.encode(t, null, [BigInt(t)]));
const e = (id: number) => encodeEntityKey([{ name: 'id', type: 'int64' }], [id]);

describe('embedded store expiry', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const tmp = () => {
    const d = mkdtempSync(path.join(os.tmpdir(), 'pitstop-exp-'));
    dirs.push(d);
    return d;
  };
  const present = async (s: EmbeddedOnlineStore, view: string, ids: number[]) =>
    (await s.readRows({ views: [view], entityKeys: [keyList(ids.map(e))] }))[0].map((r) => r !== null);

  it('a write sweeps expired rows, oldest first and bounded; expiry only moves later; no expiry = never', async () => {
    let now = 1_000_000;
    const s = await EmbeddedOnlineStore.create({ dir: tmp(), now: () => now, sweepPerWrite: 2 });
    try {
      await s.writeRows([
        { view: 'v@1', entity: e(1), row: row(1), expireAtMs: now + 100 },
        { view: 'v@1', entity: e(2), row: row(1), expireAtMs: now + 200 },
        { view: 'v@1', entity: e(3), row: row(1), expireAtMs: now + 300 },
        { view: 'v@1', entity: e(4), row: row(1) }, // no ttl: persistent
        { view: 'v@1', entity: e(5), row: row(1), expireAtMs: now + 100 },
      ]);
      // entity 5: a newer row asks for a later expiry; entity 2: a newer row asks for an
      // earlier one, which must not shorten it.
      await s.writeRows([
        { view: 'v@1', entity: e(5), row: row(2), expireAtMs: now + 1000 },
        { view: 'v@1', entity: e(2), row: row(2), expireAtMs: now + 50 },
      ]);
      now += 400; // 1, 2, 3 are due
      await s.writeRows([{ view: 'w@1', entity: e(9), row: row(1) }]); // sweeps at most 2
      expect(await present(s, 'v@1', [1, 2, 3, 4, 5])).toEqual([false, false, true, true, true]);
      expect(await s.sweepExpired()).toBe(1);
      expect(await present(s, 'v@1', [1, 2, 3, 4, 5])).toEqual([false, false, false, true, true]);
      now += 1000;
      expect(await s.sweepExpired()).toBe(1);
      expect(await present(s, 'v@1', [4, 5])).toEqual([true, false]);
      // A row without an expiry entry takes the one a later write asks for (a row is one view
      // version's, whose ttl is fixed: no entry there means written before expiry was tracked).
      await s.writeRows([{ view: 'v@1', entity: e(4), row: row(3), expireAtMs: now + 10 }]);
      now += 100;
      expect(await s.sweepExpired()).toBe(1);
      expect(await present(s, 'v@1', [4])).toEqual([false]);
      // An expired entity written again comes back as a new row.
      await s.writeRows([{ view: 'v@1', entity: e(1), row: row(0), expireAtMs: now + 10 }]);
      expect(await present(s, 'v@1', [1])).toEqual([true]);
    } finally {
      await s.close();
    }
  });

  it('opening the store sweeps what expired while it was closed', async () => {
    const dir = tmp();
    let now = 5_000;
    const a = await EmbeddedOnlineStore.create({ dir, now: () => now });
    await a.writeRows([{ view: 'v@1', entity: e(1), row: row(1), expireAtMs: now + 10 }, { view: 'v@1', entity: e(2), row: row(1), expireAtMs: now + 10_000 }]);
    await a.close();
    now += 100;
    const b = await EmbeddedOnlineStore.create({ dir, now: () => now });
    try {
      expect(await present(b, 'v@1', [1, 2])).toEqual([false, true]);
    } finally {
      await b.close();
    }
  });

  it('rows stored without expiry metadata (before it was tracked) get event time + ttl + grace, once per view version', async () => {
    const DAY = 86_400_000;
    let now = 100 * DAY;
    const dir = tmp();
    // Rows written without expireAtMs have no `exp` entry: the state of a store written before expiry existed.
    const old = await EmbeddedOnlineStore.create({ dir, now: () => now });
    await old.writeRows([
      { view: 'v@1', entity: e(1), row: row(now - 10 * DAY) }, // event long before: due at once
      { view: 'v@1', entity: e(2), row: row(now - 60_000) }, // recent: due in 2 days
      { view: 'other@1', entity: e(1), row: row(now - 10 * DAY) }, // a view not backfilled
    ]);
    await old.close();
    const s = await EmbeddedOnlineStore.create({ dir, now: () => now });
    try {
      expect(await s.sweepExpired()).toBe(0); // nothing recorded, nothing swept
      expect(await s.backfillExpiry('v@1', DAY)).toBe(2);
      expect(await s.backfillExpiry('v@1', DAY)).toBe(0); // once
      expect(await s.sweepExpired()).toBe(1);
      expect(await present(s, 'v@1', [1, 2])).toEqual([false, true]);
      now += 2 * DAY; // entity 2: event + ttl + grace (1 day) has passed
      expect(await s.sweepExpired()).toBe(1);
      expect(await present(s, 'v@1', [2])).toEqual([false]);
      expect(await present(s, 'other@1', [1])).toEqual([true]);
      // A view without ttl: its rows stay persistent.
      expect(await s.backfillExpiry('other@1', 0)).toBe(0);
      now += 100 * DAY;
      expect(await s.sweepExpired()).toBe(0);
      expect(await present(s, 'other@1', [1])).toEqual([true]);
    } finally {
      await s.close();
    }
  });

  it('push backfills the view version before writing (more than one page of 10,000 rows)', async () => {
    const DAY = 86_400_000;
    let now = 100 * DAY;
    const dir = tmp();
    const snapshot = buildSnapshot({ views: [{ name: 'p', entities: { e: { id: 'int64' } }, source: { path: 'x.parquet' }, ttlMs: DAY, features: { x: 'int64' } }] });
    const old = await EmbeddedOnlineStore.create({ dir, now: () => now });
    const n = 10_005;
    await old.writeRows(Array.from({ length: n }, (_, i) => ({ view: 'p@1', entity: e(i), row: row(now - 10 * DAY) })));
    await old.close();
    const s = await EmbeddedOnlineStore.create({ dir, now: () => now, sweepPerWrite: 0 });
    try {
      await pushRows(snapshot, 'p', [{ id: 20_000, event_timestamp: now, x: 1 }], { online: s, now: () => now });
      expect(await s.sweepExpired(100_000)).toBe(n);
      expect(await present(s, 'p@1', [0, n - 1, 20_000])).toEqual([false, false, true]);
    } finally {
      await s.close();
    }
  });
});

