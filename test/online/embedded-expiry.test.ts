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
    (await s.readRows({ views: [view], entityKeys: [ids.map(e)] }))[0].map((r) => r !== null);

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
      // A persistent row stays persistent when a later row asks for an expiry.
      await s.writeRows([{ view: 'v@1', entity: e(4), row: row(3), expireAtMs: now + 10 }]);
      now += 100;
      expect(await s.sweepExpired()).toBe(0);
      expect(await present(s, 'v@1', [4])).toEqual([true]);
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
});
