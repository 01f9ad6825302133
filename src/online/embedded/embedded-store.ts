/**
 * The embedded online store: LMDB (through lmdb-js) in a directory (config
 * `online_store.path`, default `.pitstop/online`), so `pitstop materialize` then `pitstop serve`
 * works without a server, and the data persists across processes. Several processes may open
 * the same directory (LMDB serialises writers with its own lock).
 *
 * Key: `view@version` + 0x00 + encoded entity key; value: the encoded row. A write batch runs in
 * one LMDB write transaction that reads the stored row's header and keeps the newer one, so
 * newer-wins is atomic here as in Redis. No key expiry: rows stay until overwritten (the ttl is
 * still honoured at read time as OUTSIDE_MAX_AGE); see docs/online-storage-format.md.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { open, type RootDatabase } from 'lmdb';
import { PitstopError } from '../../core/errors.ts';
import type { OnlineReadBatch, OnlineReader, OnlineWrite, OnlineWriter, ReadOptions, WriteOptions, WriteResult } from '../ports.ts';
import { ROW_CREATED_TS_OFFSET, ROW_EVENT_TS_OFFSET } from '../row-codec.ts';

export interface EmbeddedStoreOptions {
  /** Directory of the store; created when missing. */
  dir: string;
}

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

export class EmbeddedOnlineStore implements OnlineReader, OnlineWriter {
  private constructor(private readonly db: RootDatabase<Buffer, Buffer>) {}

  /** Open (creating) the store directory. Rejects ONLINE_STORE_UNAVAILABLE when it cannot. */
  static async create(options: EmbeddedStoreOptions): Promise<EmbeddedOnlineStore> {
    try {
      mkdirSync(options.dir, { recursive: true });
      const db = open<Buffer, Buffer>({ path: path.join(options.dir, 'online.mdb'), noSubdir: true, encoding: 'binary', keyEncoding: 'binary', compression: false });
      return new EmbeddedOnlineStore(db);
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
      for (let i = 0; i < keys.length; i++) rows[i] = this.db.getBinary(storeKey(batch.views[j], keys[i])) ?? null;
      out.push(rows);
    }
    return out;
  }

  /** One LMDB write transaction per call, so every call is atomic (`options.atomic` changes nothing). */
  async writeRows(rows: readonly OnlineWrite[], _options?: WriteOptions): Promise<WriteResult> {
    if (rows.length === 0) return { written: 0, stale: 0 };
    try {
      const written = await this.db.transaction(() => {
        let n = 0;
        for (const r of rows) {
          const key = storeKey(r.view, r.entity);
          const cur = this.db.getBinary(key);
          if (cur && !isNewerRow(r.row, cur)) continue;
          this.db.put(key, r.row);
          n++;
        }
        return n;
      });
      return { written, stale: rows.length - written };
    } catch (e) {
      throw new PitstopError('ONLINE_STORE_UNAVAILABLE', `embedded online store write failed: ${(e as Error).message}`, { cause: e });
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    await this.db.close();
  }
}
