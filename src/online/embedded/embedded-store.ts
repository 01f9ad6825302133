/**
 * The embedded online store: LMDB (through lmdb-js) in a directory (config
 * `online_store.path`, default `.pitstop/online`), so `pitstop materialize` then `pitstop serve`
 * works without a server, and the data persists across processes. Several processes may open
 * the same directory (LMDB serialises writers with its own lock).
 *
 * Key: `view@version` + 0x00 + encoded entity key; value: the encoded row. A write batch runs in
 * one LMDB write transaction that reads the stored row's header and keeps the newer one, so
 * newer-wins is atomic here as in Redis.
 *
 * Expiry (memory hygiene; freshness is still decided at read time): a row written with an
 * `expireAtMs` gets an entry in two side databases, `exp` (store key → expiry) and `by-exp`
 * (expiry, store key → nothing, ordered by time). Every write transaction and `create()` delete
 * a bounded number of rows whose expiry has passed, oldest first, so entities that stop arriving
 * disappear without a full scan. As in Redis, a row's expiry only moves later, and a row written
 * without expiry (a view without ttl) never expires. See docs/online-storage-format.md.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { PitstopError } from '../../core/errors.ts';
import { expireAtFromEventMs } from '../expiry.ts';
import { packRows, type ExpiryBackfill, type OnlineReadBatch, type OnlineReader, type OnlineWrite, type OnlineWriter, type ReadOptions, type WriteOptions, type WriteResult } from '../ports.ts';
import { ROW_CREATED_TS_OFFSET, ROW_EVENT_TS_OFFSET, ROW_HEADER_BYTES } from '../row-codec.ts';

export interface EmbeddedStoreOptions {
  /** Directory of the store; created when missing. */
  dir: string;
  /** Expired rows deleted per write transaction at most; default 1000 (keeps writes cheap). */
  sweepPerWrite?: number;
  /** Expired rows deleted by `create()` at most; default 100,000. */
  sweepOnOpen?: number;
  /** Clock for expiry; default Date.now. */
  now?: () => number;
}

/** `by-exp` key: expiry as 8 bytes big-endian (so byte order is time order), then the store key. */
function expiryKey(expireAtMs: number, key: Buffer): Buffer {
  const out = Buffer.allocUnsafe(8 + key.length);
  out.writeUInt32BE(Math.floor(expireAtMs / 0x1_0000_0000), 0);
  out.writeUInt32BE(expireAtMs % 0x1_0000_0000, 4);
  key.copy(out, 8);
  return out;
}

function expiryBytes(expireAtMs: number): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeDoubleLE(expireAtMs, 0);
  return b;
}

const EMPTY = Buffer.alloc(0);

function storeKey(view: string, entity: Uint8Array): Buffer {
  const v = Buffer.from(view, 'latin1');
  const out = Buffer.allocUnsafe(v.length + 1 + entity.length);
  v.copy(out, 0);
  out[v.length] = 0;
  out.set(entity, v.length + 1);
  return out;
}

/** True when `next` should replace `cur`: newer event time, ties by newer created time. */
export function isNewerRow(next: Uint8Array, cur: Uint8Array): boolean {
  const ne = Buffer.prototype.readDoubleLE.call(next, ROW_EVENT_TS_OFFSET);
  const ce = Buffer.prototype.readDoubleLE.call(cur, ROW_EVENT_TS_OFFSET);
  if (ne !== ce) return ne > ce;
  return Buffer.prototype.readDoubleLE.call(next, ROW_CREATED_TS_OFFSET) > Buffer.prototype.readDoubleLE.call(cur, ROW_CREATED_TS_OFFSET);
}

export class EmbeddedOnlineStore implements OnlineReader, OnlineWriter, ExpiryBackfill {
  private readonly now: () => number;
  private readonly sweepPerWrite: number;

  private constructor(
    private readonly db: RootDatabase<Buffer, Buffer>,
    private readonly exp: Database<Buffer, Buffer>,
    private readonly byExp: Database<Buffer, Buffer>,
    private readonly meta: Database<Buffer, Buffer>,
    options: EmbeddedStoreOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sweepPerWrite = options.sweepPerWrite ?? 1000;
  }

  /** Open (creating) the store directory. Rejects ONLINE_STORE_UNAVAILABLE when it cannot. */
  static async create(options: EmbeddedStoreOptions): Promise<EmbeddedOnlineStore> {
    try {
      mkdirSync(options.dir, { recursive: true });
      const db = open<Buffer, Buffer>({ path: path.join(options.dir, 'online.mdb'), noSubdir: true, encoding: 'binary', keyEncoding: 'binary', compression: false });
      const exp = db.openDB<Buffer, Buffer>({ name: 'exp', encoding: 'binary', keyEncoding: 'binary', compression: false });
      const byExp = db.openDB<Buffer, Buffer>({ name: 'by-exp', encoding: 'binary', keyEncoding: 'binary', compression: false });
      const meta = db.openDB<Buffer, Buffer>({ name: 'meta', encoding: 'binary', keyEncoding: 'binary', compression: false });
      const store = new EmbeddedOnlineStore(db, exp, byExp, meta, options);
      const limit = options.sweepOnOpen ?? 100_000;
      if (limit > 0) await db.transaction(() => store.sweep(limit));
      return store;
    } catch (e) {
      throw new PitstopError('ONLINE_STORE_UNAVAILABLE', `cannot open the embedded online store in ${options.dir}: ${(e as Error).message}`, { cause: e });
    }
  }

  async readRows(batch: OnlineReadBatch, options: ReadOptions = {}): Promise<(Buffer | null)[][]> {
    if (options.signal?.aborted) throw new PitstopError('DEADLINE_EXCEEDED', 'online read aborted');
    const out: (Buffer | null)[][] = [];
    for (let j = 0; j < batch.views.length; j++) {
      const keys = batch.entityKeys[j];
      const rows: (Buffer | null)[] = new Array(keys.length);
      for (let i = 0; i < keys.length; i++) rows[i] = this.db.getBinary(storeKey(batch.views[j], keys.key(i))) ?? null;
      out.push(rows);
    }
    return out;
  }

  async readSpans(batch: OnlineReadBatch, spans: Int32Array, options: ReadOptions = {}): Promise<Buffer> {
    return packRows(await this.readRows(batch, options), spans);
  }

  /** One LMDB write transaction per call, so every call is atomic (`options.atomic` changes nothing). */
  async writeRows(rows: readonly OnlineWrite[], _options?: WriteOptions): Promise<WriteResult> {
    if (rows.length === 0) return { written: 0, stale: 0 };
    try {
      const written = await this.db.transaction(() => {
        this.sweep(this.sweepPerWrite);
        let n = 0;
        for (const r of rows) {
          const key = storeKey(r.view, r.entity);
          const cur = this.db.getBinary(key);
          if (cur && !isNewerRow(r.row, cur)) continue;
          this.db.put(key, r.row);
          this.setExpiry(key, cur !== undefined, r.expireAtMs);
          n++;
        }
        return n;
      });
      return { written, stale: rows.length - written };
    } catch (e) {
      throw new PitstopError('ONLINE_STORE_UNAVAILABLE', `embedded online store write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  /**
   * Inside a write transaction: the row's expiry only moves later; a row written without expiry
   * (view ttl 0) is persistent. A row is one view version's, whose ttl never changes, so a
   * stored row without an entry that now gets a write asking for an expiry was written before
   * expiry was tracked: it takes the expiry (unlike a Redis record, shared by views, where
   * "no expiry" means a view without ttl lives there).
   */
  private setExpiry(key: Buffer, _existed: boolean, want: number | undefined): void {
    const old = this.exp.getBinary(key);
    const oldMs = old ? old.readDoubleLE(0) : undefined;
    if (want === undefined) {
      if (oldMs !== undefined) {
        this.exp.remove(key);
        this.byExp.remove(expiryKey(oldMs, key));
      }
      return;
    }
    if (oldMs !== undefined && oldMs >= want) return;
    const ms = Math.ceil(want);
    if (oldMs !== undefined) this.byExp.remove(expiryKey(oldMs, key));
    this.exp.put(key, expiryBytes(ms));
    this.byExp.put(expiryKey(ms, key), EMPTY);
  }

  /** Inside a write transaction: delete up to `limit` rows whose expiry has passed, oldest first. Returns how many. */
  private sweep(limit: number): number {
    const end = expiryKey(this.now() + 1, EMPTY); // expiry <= now
    // Collect first, then delete: no deleting under a live cursor.
    const due = [...this.byExp.getKeys({ end, limit })] as Buffer[];
    for (const k of due) {
      const key = Buffer.from(k.subarray(8));
      this.byExp.remove(k);
      this.exp.remove(key);
      this.db.remove(key);
    }
    return due.length;
  }

  /**
   * Rows of `view` stored without an expiry entry (written before the store tracked expiry)
   * get `event time + ttl + grace`, so the sweep deletes them like any other; done once per
   * view version (a mark in the `meta` database), in transactions of 10,000 rows. Rows already
   * due go at the next sweep. ttlMs 0: the rows are persistent by design; only the mark is set.
   */
  async backfillExpiry(view: string, ttlMs: number): Promise<number> {
    const mark = Buffer.from(`expiry-backfill:${view}`, 'latin1');
    if (this.meta.getBinary(mark)) return 0;
    if (ttlMs <= 0) {
      await this.meta.put(mark, Buffer.from([1]));
      return 0;
    }
    const prefix = storeKey(view, EMPTY);
    const end = Buffer.from(prefix);
    end[end.length - 1] = 1; // view + 0x01: just past every key of the view
    let start: Buffer = prefix;
    let total = 0;
    try {
      for (;;) {
        const page = await this.db.transaction(() => {
          let n = 0;
          let last: Buffer | undefined;
          let seen = 0;
          for (const { key, value } of this.db.getRange({ start, end, limit: 10_000 })) {
            seen++;
            last = Buffer.from(key as Buffer);
            if (this.exp.getBinary(last) !== undefined) continue;
            const row = value as Buffer;
            if (row.length < ROW_HEADER_BYTES) continue;
            const ms = Math.ceil(expireAtFromEventMs(ttlMs, row.readDoubleLE(ROW_EVENT_TS_OFFSET))!);
            this.exp.put(last, expiryBytes(ms));
            this.byExp.put(expiryKey(ms, last), EMPTY);
            n++;
          }
          if (seen < 10_000) this.meta.put(mark, Buffer.from([1]));
          return { n, last, done: seen < 10_000 };
        });
        total += page.n;
        if (page.done || !page.last) break;
        start = Buffer.concat([page.last, Buffer.from([0])]); // just after the last key seen
      }
    } catch (e) {
      throw new PitstopError('ONLINE_STORE_UNAVAILABLE', `embedded online store expiry backfill of ${view} failed: ${(e as Error).message}`, { cause: e });
    }
    return total;
  }

  /** Delete up to `limit` expired rows now (also done, bounded, by every write and by `create()`). */
  async sweepExpired(limit = 100_000): Promise<number> {
    return this.db.transaction(() => this.sweep(limit));
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    await this.db.close();
  }
}
