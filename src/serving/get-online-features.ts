/**
 * The one transport-agnostic online lookup. gRPC and HTTP both decode their request into an
 * OnlineFeaturesRequest, call this, and encode the OnlineFeaturesResult their own way.
 *
 * Per request: one plan lookup (precompiled per snapshot), one entity key per entity row per
 * distinct join-key list, ONE `readSpans` round trip for every view (rows as spans of one
 * buffer, no object per row), then a pass over the rows that fills flat typed arrays (value
 * offsets into that buffer, statuses, event times).
 */
import { decodeBase64 } from '../core/base64.ts';
import { PitstopError, shownText } from '../core/errors.ts';
import type { OnlineReader } from '../online/ports.ts';
import type { Cancellation } from './cancellation.ts';
import { deadlineError } from './error-map.ts';
import type { ServingSnapshot } from './plan.ts';
import { EVENT_TIMESTAMPS, STATUS, type EventTimestampsMode, type OnlineFeaturesResult } from './result.ts';
import { rowEventMsAt, rowValueOffsetsAt } from '../online/row-codec.ts';
import { BadEntityRow, type EntityKeyEncoder, type EntityKeyList } from '../online/entity-key.ts';
import { float64s, int32s, uint8s } from './slab.ts';

/** Scratch for one row's value offsets; reused (a request fills it synchronously). */
let offsets = new Int32Array(512);

export interface OnlineFeaturesRequest {
  /** A feature service name (takes precedence over `features`). */
  featureService?: string;
  /** Feature references `view[@version]:feature`. */
  features?: readonly string[];
  /** Join key name → one value per entity row (JS values: number, bigint, digit string, string, Buffer). */
  entities: Readonly<Record<string, readonly unknown[]>>;
  fullFeatureNames?: boolean;
  /** How the answer carries event timestamps (default PER_FEATURE); transports check the value. */
  eventTimestamps?: EventTimestampsMode;
  /**
   * Bytes-typed join keys given as base64 text (JSON has no bytes; HTTP sets this, and answers
   * render bytes values as base64 too). Without it a bytes key takes only bytes.
   */
  base64BytesKeys?: boolean;
}

export interface Limits {
  /** Most entity rows per request. */
  maxEntities: number;
  /** Most features per request. */
  maxFeatures: number;
}

export interface LookupOptions {
  limits: Limits;
  /** Set when the deadline passes or the client goes away: the lookup stops waiting (DEADLINE_EXCEEDED). */
  cancel?: Cancellation;
  /** Read time in epoch ms (ttl checks); default Date.now(). */
  now?: number;
  /** Called with the store read's duration in seconds and whether it succeeded. */
  onRead?: (seconds: number, ok: boolean) => void;
  /** Called with one sampled value age (seconds) per view that had a row. */
  onValueAge?: (seconds: number) => void;
}

export async function getOnlineFeatures(
  served: ServingSnapshot,
  reader: OnlineReader,
  request: OnlineFeaturesRequest,
  options: LookupOptions,
): Promise<OnlineFeaturesResult> {
  const { limits, cancel } = options;
  if (!request.featureService && request.features && request.features.length > limits.maxFeatures) {
    throw new PitstopError('LIMIT_EXCEEDED', `the request asks for ${request.features.length} features; the limit is ${limits.maxFeatures}`);
  }
  const plan = served.plan(request, request.fullFeatureNames === true);
  const nFeatures = plan.featureNames.length;
  if (nFeatures > limits.maxFeatures) {
    throw new PitstopError('LIMIT_EXCEEDED', `feature service "${request.featureService}" has ${nFeatures} features; the limit is ${limits.maxFeatures}`);
  }
  const n = entityCount(request.entities, plan.joinKeyNames, limits.maxEntities);
  const groupKeys = plan.keyEncoders.map((enc) => buildEntityKeys(enc, request.entities, n, request.base64BytesKeys === true));
  const views = plan.views;

  if (cancel?.aborted) throw deadlineError();
  const started = performance.now();
  // Row of view v and entity row i: spans[2(v·n + i)] .. spans[2(v·n + i) + 1], -1 = none.
  const spans = int32s(2 * views.length * n);
  let data: Buffer;
  try {
    const read = reader.readSpans({ views: plan.storageIds, entityKeys: views.map((v) => groupKeys[v.keyGroup]), ttlMs: plan.ttlMs }, spans);
    data = await (cancel ? Promise.race([read, cancel.promise]) : read);
  } catch (e) {
    options.onRead?.((performance.now() - started) / 1000, false);
    if (cancel?.aborted) throw deadlineError();
    throw e;
  }
  options.onRead?.((performance.now() - started) / 1000, true);
  if (cancel?.aborted) throw deadlineError();

  const now = options.now ?? Date.now();
  const valueStart = int32s(nFeatures * n);
  const valueEnd = int32s(nFeatures * n);
  const statuses = uint8s(nFeatures * n);
  const eventTsMs = float64s(views.length * n);
  for (let v = 0; v < views.length; v++) {
    const { ttlMs: ttl, features, scanCount } = views[v];
    if (offsets.length < 2 * scanCount) offsets = new Int32Array(2 * scanCount);
    let sampled = false;
    for (let i = 0; i < n; i++) {
      const start = spans[2 * (v * n + i)];
      if (start < 0) {
        for (let x = 0; x < features.length; x++) statuses[features[x] * n + i] = STATUS.NOT_FOUND;
        continue;
      }
      const end = spans[2 * (v * n + i) + 1];
      const ts = rowEventMsAt(data, start, end);
      eventTsMs[v * n + i] = ts > 0 ? ts : 0;
      // The same rule as online/status.ts (valueStatus), fused across views: a row exactly ttl
      // old is PRESENT; NULL_VALUE wins over OUTSIDE_MAX_AGE.
      const rowStatus = ttl > 0 && now - ts > ttl ? STATUS.OUTSIDE_MAX_AGE : STATUS.PRESENT;
      if (!sampled && options.onValueAge) {
        sampled = true;
        options.onValueAge(Math.max(0, now - ts) / 1000);
      }
      rowValueOffsetsAt(data, start, end, scanCount, offsets);
      for (let x = 0; x < features.length; x++) {
        const f = features[x];
        const at = 2 * plan.featureIndex[f];
        const k = f * n + i;
        const s = offsets[at];
        const e = offsets[at + 1];
        valueStart[k] = s;
        valueEnd[k] = e;
        statuses[k] = s === e ? STATUS.NULL_VALUE : rowStatus;
      }
    }
  }
  return { plan, eventTimestamps: request.eventTimestamps ?? EVENT_TIMESTAMPS.PER_FEATURE, registryVersion: served.snapshot.version, entityCount: n, data, valueStart, valueEnd, statuses, eventTsMs };
}

function entityCount(entities: Readonly<Record<string, readonly unknown[]>>, needed: readonly string[], max: number): number {
  let n = -1;
  let first = '';
  for (const name of needed) {
    const col = Object.hasOwn(entities, name) ? entities[name] : undefined;
    if (!col) throw new PitstopError('BAD_REQUEST', `missing join key "${name}" in entities (the requested features need: ${needed.join(', ')})`);
    if (!Array.isArray(col)) throw new PitstopError('BAD_REQUEST', `entities.${name} must be a list of values`);
    if (n < 0) {
      n = col.length;
      first = name;
    } else if (col.length !== n) {
      throw new PitstopError('BAD_REQUEST', `entity columns differ in length: ${first} has ${n} values, ${name} has ${col.length}`);
    }
  }
  if (n < 0) n = 0;
  if (n > max) throw new PitstopError('LIMIT_EXCEEDED', `the request has ${n} entity rows; the limit is ${max}`);
  return n;
}

/** Entity keys of every entity row for one join-key list, packed; a mistyped value names its key and row. */
function buildEntityKeys(encoder: EntityKeyEncoder, entities: Readonly<Record<string, readonly unknown[]>>, n: number, base64Bytes: boolean): EntityKeyList {
  const keys = encoder.joinKeys;
  const columns = keys.map((k) => (base64Bytes && k.type === 'bytes' ? base64Column(entities[k.name], k.name, n) : entities[k.name]));
  try {
    return encoder.encodeColumns(columns, n);
  } catch (bad) {
    if (!(bad instanceof BadEntityRow)) throw bad;
    const { row: i, cause: e } = bad;
    const name = keys.find((k, c) => String((e as Error).message).startsWith(`${k.name}:`) || columns[c][i] == null)?.name ?? keys[0].name;
    const type = keys.find((k) => k.name === name)?.type;
    throw new PitstopError('VALUE_TYPE_MISMATCH', `entities.${name}[${i}]: join key "${name}" must be ${type}: ${(e as Error).message}`, { cause: e });
  }
}

/** A bytes join key's column with its base64 texts decoded; anything else is left for the encoder to refuse. */
function base64Column(column: readonly unknown[], name: string, n: number): unknown[] {
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const v = column[i];
    if (typeof v !== 'string') {
      out[i] = v;
      continue;
    }
    const bytes = decodeBase64(v);
    if (!bytes) throw new PitstopError('VALUE_TYPE_MISMATCH', `entities.${name}[${i}]: join key "${name}" is bytes, given over JSON as base64 text; ${shownText(v)} is not base64`);
    out[i] = bytes;
  }
  return out;
}
