/**
 * Push ingestion (for streaming sources): rows for one feature view are checked against its
 * schema, then written online (newer event time wins) and optionally appended to the offline
 * push log so training sees them too.
 *
 * A batch is all or nothing at validation: every row is encoded before anything is written, and
 * a bad batch throws PUSH_ROWS_INVALID listing each bad row index and field (up to 50).
 *
 * Row fields: the view's join keys; the event timestamp as `event_timestamp` or the source's
 * timestamp field; optionally the created timestamp as `created_timestamp` or the source's
 * created timestamp field; features by name (absent = null). Any other field is an error (a
 * misspelt feature must not silently become null).
 */
import { decodeBase64 } from '../core/base64.ts';
import { PitstopError, isPitstopError, shownText, type Problem } from '../core/errors.ts';
import type { FeatureViewVersion, RegistrySnapshot } from '../core/registry-model.ts';
import type { PushLog } from '../offline/ports.ts';
import { EntityKeyEncoder, decodeEntityKey } from '../online/entity-key.ts';
import { expireAtMs } from '../online/expiry.ts';
import type { ExpiryBackfill, OnlineWrite, OnlineWriter, WriteResult } from '../online/ports.ts';
import { RowEncoder, decodeRow } from '../online/row-codec.ts';
import { toTimestampMs } from '../online/value-codec.ts';
import { lookupView } from '../registry/resolve.ts';

export interface PushOptions {
  online: OnlineWriter;
  /** Also append the batch to the offline push log; default false. Needs `pushLog`. */
  toOffline?: boolean;
  pushLog?: PushLog;
  /**
   * Rows per writeRows call; default: the whole batch in one atomic call (all or nothing on the
   * embedded store and standalone Redis, per hash slot on a cluster). Set it to split a very
   * large batch into non-atomic calls (each call is then atomic on its own).
   */
  writeChunkRows?: number;
  /** Clock for record expiry; default Date.now. */
  now?: () => number;
  /**
   * Bytes (join keys, `bytes` and `list<bytes>` features) may be given as base64 text: for rows
   * from JSON, which has no bytes. Text that is not base64 is a problem of its row and field.
   */
  base64Bytes?: boolean;
}

export interface PushResult extends WriteResult {
  /** `view@version`. */
  view: string;
  rows: number;
  /** The push log file, when `toOffline`. */
  offlineFile?: string;
}

const MAX_PROBLEMS = 50;

/**
 * Validate and write `rows` for `view` (`name` = its latest version, or `name@N`).
 * Throws UNKNOWN_FEATURE_VIEW, VIEW_NOT_ONLINE, PUSH_ROWS_INVALID (nothing written) or
 * ONLINE_STORE_UNAVAILABLE (by default nothing of the batch was written on the embedded store
 * and standalone Redis; on a Redis Cluster the slots already written stay; pushing the batch
 * again is safe either way).
 */
export async function pushRows(snapshot: RegistrySnapshot, view: string, rows: readonly unknown[], options: PushOptions): Promise<PushResult> {
  const m = /^([^@]+)(?:@([1-9][0-9]*))?$/.exec(view);
  const v = lookupView(snapshot, m ? m[1] : view, m?.[2] ? Number(m[2]) : undefined);
  if (!v.online) throw new PitstopError('VIEW_NOT_ONLINE', `feature view "${v.name}" version ${v.version} is not online; rows cannot be pushed to it`);
  if (options.toOffline && !options.pushLog) throw new PitstopError('INTERNAL', 'pushRows: toOffline needs a push log');
  const { writes, entities, encoded } = encodeBatch(v, rows, (options.now ?? Date.now)(), { base64Bytes: options.base64Bytes === true });
  let offlineFile: string | undefined;
  // The offline log first: if the online write then fails, a retry re-appends the same rows,
  // which the point-in-time join treats as one (same keys and timestamps).
  // The rows are decoded from what is written online, so offline sees exactly the values online got.
  if (options.toOffline) offlineFile = await options.pushLog!.append(v, encoded.map((row, i) => ({ keys: decodeEntityKey(v.joinKeys, entities[i]), ...decodeRow(row, v.features.length) })));
  // Rows stored before the store tracked expiry get one now (once per view version; embedded).
  await (options.online as Partial<ExpiryBackfill>).backfillExpiry?.(`${v.name}@${v.version}`, v.ttlMs);
  const chunk = options.writeChunkRows ?? writes.length;
  let written = 0;
  let stale = 0;
  for (let s = 0; s < writes.length; s += chunk) {
    const r = await options.online.writeRows(writes.slice(s, s + chunk), { atomic: true });
    written += r.written;
    stale += r.stale;
  }
  return { view: `${v.name}@${v.version}`, rows: rows.length, written, stale, offlineFile };
}

/** Check and encode every row; throws PUSH_ROWS_INVALID with every problem found. */
export function encodeBatch(view: FeatureViewVersion, rows: readonly unknown[], nowMs: number, options: { base64Bytes?: boolean } = {}): { writes: OnlineWrite[]; entities: Buffer[]; encoded: Buffer[] } {
  const id = `${view.name}@${view.version}`;
  const rowEnc = new RowEncoder(view.features);
  const keyEnc = new EntityKeyEncoder(view.joinKeys);
  const eventFields = ['event_timestamp', view.source.timestampField];
  const createdFields = ['created_timestamp', ...(view.source.createdTimestampField ? [view.source.createdTimestampField] : [])];
  const known = new Set<string>([...view.joinKeys.map((k) => k.name), ...eventFields, ...createdFields, ...view.features.map((f) => f.name)]);
  const expireAt = expireAtMs(view.ttlMs, nowMs);
  const problems: Problem[] = [];
  const writes: OnlineWrite[] = [];
  const entities: Buffer[] = [];
  const encoded: Buffer[] = [];
  const problem = (i: number, field: string | undefined, message: string) => {
    if (problems.length < MAX_PROBLEMS) problems.push({ path: field ? `rows[${i}].${field}` : `rows[${i}]`, message });
  };
  // Fields that hold bytes, read from base64 text when asked: name → whether it is a list.
  const bytesFields = new Map<string, boolean>();
  if (options.base64Bytes) {
    for (const k of view.joinKeys) if (k.type === 'bytes') bytesFields.set(k.name, false);
    for (const f of view.features) if (f.type === 'bytes' || f.type === 'list<bytes>') bytesFields.set(f.name, f.type !== 'bytes');
  }
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row === null || typeof row !== 'object' || Array.isArray(row)) {
      problem(i, undefined, 'a row must be an object of field values');
      continue;
    }
    let r = row as Record<string, unknown>;
    let ok = true;
    if (bytesFields.size > 0) {
      r = { ...r };
      for (const [name, isList] of bytesFields) {
        const at = (x: unknown, where: string): unknown => {
          if (typeof x !== 'string') return x;
          const bytes = decodeBase64(x);
          if (!bytes) {
            problem(i, where, `bytes are given as base64 text; ${shownText(x)} is not base64`);
            ok = false;
          }
          return bytes ?? x;
        };
        const v = r[name];
        if (isList && Array.isArray(v)) r[name] = v.map((x, j) => at(x, `${name}[${j}]`));
        else if (!isList) r[name] = at(v, name);
      }
      // The field's own encoder would only say "expected bytes, got string" again.
      if (!ok) continue;
    }
    for (const f of Object.keys(r)) {
      if (!known.has(f)) {
        problem(i, f, `unknown field (view ${id} has join keys ${view.joinKeys.map((k) => k.name).join(', ')}, features ${view.features.map((x) => x.name).join(', ')}, and ${eventFields.join(' / ')})`);
        ok = false;
      }
    }
    let entity: Buffer | undefined;
    try {
      entity = keyEnc.encodeRecord(r);
    } catch (e) {
      const msg = isPitstopError(e) ? e.message : String(e);
      problem(i, msg.split(':')[0], msg.slice(msg.indexOf(':') + 2));
      ok = false;
    }
    const evField = eventFields.find((f) => r[f] !== undefined && r[f] !== null);
    let eventMs: number | undefined;
    if (!evField) {
      problem(i, eventFields[0], `event timestamp is missing (give ${eventFields.join(' or ')})`);
      ok = false;
    } else {
      try {
        eventMs = toTimestampMs(r[evField], evField);
      } catch (e) {
        problem(i, evField, (e as Error).message.slice(evField.length + 2));
        ok = false;
      }
    }
    const crField = createdFields.find((f) => r[f] !== undefined && r[f] !== null);
    let createdMs: number | null = null;
    if (crField) {
      try {
        createdMs = toTimestampMs(r[crField], crField);
      } catch (e) {
        problem(i, crField, (e as Error).message.slice(crField.length + 2));
        ok = false;
      }
    }
    if (!ok || eventMs === undefined || !entity) continue;
    rowEnc.begin(eventMs, createdMs);
    let f = 0;
    try {
      for (; f < view.features.length; f++) rowEnc.value(f, r[view.features[f].name]);
    } catch (e) {
      rowEnc.abort();
      problem(i, view.features[f].name, (e as Error).message);
      continue;
    }
    const encodedRow = rowEnc.end();
    writes.push({ view: id, entity, row: encodedRow, expireAtMs: expireAt });
    entities.push(entity);
    encoded.push(encodedRow);
  }
  if (problems.length > 0) {
    throw new PitstopError('PUSH_ROWS_INVALID', `push to ${id}: ${problems.length}${problems.length === MAX_PROBLEMS ? '+' : ''} problem(s); nothing was written`, { problems });
  }
  return { writes, entities, encoded };
}
