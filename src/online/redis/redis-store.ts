/**
 * The Redis online store (standalone or Redis Cluster) through ioredis: OnlineReader and
 * OnlineWriter over the layout of docs/online-storage-format.md (format 2: one string key per
 * view version and entity, newer-wins Lua script).
 *
 * ioredis options are set on purpose (its defaults favour resilience over latency):
 * - `enableOfflineQueue: false`: while disconnected a command fails at once instead of queueing
 *   (a serving request must not wait for a reconnect).
 * - `maxRetriesPerRequest: 0`: a command that failed on a broken connection is not resent; the
 *   caller (serving, or a rerun of materialize) decides. Writes are idempotent anyway.
 * - `connectTimeout` and `commandTimeout` from config (`connect_timeout_ms`, `command_timeout_ms`).
 * - reconnect every 100 ms growing to at most 1 s, forever: the store recovers by itself when
 *   Redis returns.
 */
import { createHash } from 'node:crypto';
import { Cluster, Command, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { PitstopError, isPitstopError } from '../../core/errors.ts';
import { packRows, type OnlineReadBatch, type OnlineReader, type OnlineWrite, type OnlineWriter, type ReadCacheStatsSource, type ReadOptions, type WriteOptions, type WriteResult } from '../ports.ts';
import { ROW_HEADER_BYTES } from '../row-codec.ts';
import { expiryGraceMs } from '../expiry.ts';
import { READ_ROWS_COMMAND, READ_ROWS_LUA, ReadReply } from './read-script.ts';
import { RedisReadConnection, bulkHeaderLength, mgetHeaderLength, writeBulkHeader, writeMgetHeader } from './read-connection.ts';
import { RowKeys } from './row-key.ts';
import type { EntityKeyList } from '../entity-key.ts';
import { PerNode } from './per-node.ts';
import { ClusterTrackedReads, TrackedReads, nodeUrl } from './tracked-reads.ts';
import { keyHash, type NearCacheStats } from './near-cache.ts';
import { WRITE_ROWS_COMMAND, WRITE_ROWS_LUA } from './write-script.ts';
import { ioredisClient, parseRedisUrl, redactUrl } from './redis-url.ts';

export interface RedisStoreOptions {
  /** `redis://host:port/db` for a standalone server. Ignored when `clusterNodes` is set. */
  url?: string;
  /** `host:port` seeds of a Redis Cluster. */
  clusterNodes?: readonly string[];
  /** Key prefix (config `key_prefix`); default `ps`. */
  keyPrefix?: string;
  /** Registry project; namespaces every key. */
  project: string;
  /** Connect timeout in ms; default 2000. */
  connectTimeoutMs?: number;
  /** Per-command timeout in ms; default 1000. */
  commandTimeoutMs?: number;
  /**
   * Reads over connections of pitstop's own, replies parsed in place (read-connection.ts):
   * standalone, one MGET per read; cluster, one write per master with an MGET per entity (each
   * master's connection opens in the background on first use; the read script serves until
   * then). Default true; false (or a standalone URL that connection does not take, e.g. one with
   * query options) reads through ioredis and the read script.
   */
  directReads?: boolean;
  /**
   * Bytes of the near cache (config `near_cache_mb`): rows kept in this process, kept right by
   * Redis' invalidation messages (tracked-reads.ts). 0 or absent: none. Needs a standalone
   * Redis 6+ and direct reads.
   */
  nearCacheBytes?: number;
  /**
   * Rows per script call (non-atomic writes); default 256. 256 measured a little cheaper than
   * 64 for Node (fewer calls to frame) and for Redis (bench/materialize-script-variants.ts); a
   * call then blocks other clients (serving reads) for about 1–1.5 ms. Lower it when serving
   * shares the Redis and its p99 matters more than materialization speed.
   */
  rowsPerScript?: number;
  /**
   * Extra time an atomic script call may take per row, in ms, on top of `commandTimeoutMs`;
   * default 0.02 (20 µs/row, about four times the ~5 µs/row measured on a loaded machine). An
   * atomic call (one per batch, or per hash slot on a cluster) runs for as long as its batch
   * is big, so its timeout grows with it: 1000 ms + 100,000 rows × 0.02 ms = 3 s.
   */
  atomicMsPerRow?: number;
}

const WRITE_ROWS_SHA = createHash('sha1').update(WRITE_ROWS_LUA).digest('hex');
const EMPTY = Buffer.alloc(0);
/** readSpansNear's marks for a row not cached, and cached as having no row. */
const MISS = -1;
const NO_ROW = -2;
const EMPTY_HASHES = new Int32Array(0);
/** How often a cluster store with a near cache refreshes its slot map (ioredis `slotsRefreshInterval`). */
const NEAR_SLOTS_REFRESH_MS = 1000;
/** A near-cache read on a cluster that must go around the cache (readSpansNear catches it). */
const BYPASS = new Error('near cache: read around the cache');
/** Where a near-cache read sends its misses: the tracked connection (standalone), or each master's (cluster). */
type Tracked = RedisReadConnection | ReadonlyMap<string, RedisReadConnection>;
/** The Buffer-reply variant ioredis defines beside the script's command. */
const READ_ROWS_BUFFER = `${READ_ROWS_COMMAND}Buffer`;

type Client = Redis | Cluster;
type Pipe = ReturnType<Client['pipeline']>;

/** One script call being built (see write-script.ts for the argument layout). */
interface ScriptCall {
  node: string;
  keys: Buffer[];
  argv: (Buffer | string)[];
  /** The open run: its rows (not yet in argv) and expiry argument. */
  runRows: Buffer[];
  runExp: number | undefined;
  runExpArg: string;
}

/** Close a run: its expiry and row count, then its rows, one argument each. */
function closeRun(c: ScriptCall): void {
  const rows = c.runRows;
  const n = rows.length;
  if (n === 0) return;
  c.argv.push(c.runExpArg, String(n));
  for (let i = 0; i < n; i++) c.argv.push(rows[i]);
  c.runRows = [];
}

const retry = (times: number) => Math.min(100 * times, 1000);

/**
 * A failed Redis call as a PitstopError: ONLINE_STORE_KEY_CONFLICT when a row key holds
 * something other than a string (the write script's own check, or Redis' WRONGTYPE on a
 * non-atomic write), else ONLINE_STORE_UNAVAILABLE.
 */
function unavailable(e: unknown, what: string): PitstopError {
  if (isPitstopError(e)) return e;
  const message = (e as Error)?.message ?? String(e);
  if (message.includes('PITSTOP_WRONG_TYPE') || message.includes('WRONGTYPE')) {
    return new PitstopError('ONLINE_STORE_KEY_CONFLICT', `online store (redis) ${what} failed: ${message.replace(/^.*PITSTOP_WRONG_TYPE /s, '')}`, { cause: e });
  }
  return new PitstopError('ONLINE_STORE_UNAVAILABLE', `online store (redis) ${what} failed: ${message}`, { cause: e });
}

export class RedisOnlineStore implements OnlineReader, OnlineWriter, ReadCacheStatsSource {
  private readonly keys: RowKeys;
  private readonly rowsPerScript: number;
  private readonly commandTimeoutMs: number;
  private readonly atomicMsPerRow: number;
  private readonly directReads: boolean;
  private readonly connectTimeoutMs: number;
  /**
   * Cluster: a direct read connection per master, made on first use in the background; reads go
   * through the read script until every master a read needs has a ready one.
   */
  private readonly nodeReaders: PerNode<RedisReadConnection>;
  private closed = false;

  private constructor(
    private readonly client: Client,
    private readonly cluster: boolean,
    options: RedisStoreOptions,
    /** The direct MGET connection serving reads on a standalone server (read-connection.ts), when the URL allows one. */
    private readonly reader: RedisReadConnection | undefined,
    /** The near cache and its tracked connections, when configured (a tracker per master on a cluster). */
    private readonly near: TrackedReads | ClusterTrackedReads | undefined,
  ) {
    this.keys = new RowKeys(options.keyPrefix ?? 'ps', options.project);
    this.rowsPerScript = Math.max(1, options.rowsPerScript ?? 256);
    this.commandTimeoutMs = options.commandTimeoutMs ?? 1000;
    this.atomicMsPerRow = Math.max(0, options.atomicMsPerRow ?? 0.02);
    this.directReads = options.directReads !== false;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 2000;
    this.nodeReaders = new PerNode((node) => RedisReadConnection.connect({ url: nodeUrl(node), connectTimeoutMs: this.connectTimeoutMs, commandTimeoutMs: this.commandTimeoutMs }));
    if (cluster) {
      const forget = () => (this.masters = undefined);
      for (const event of ['+node', '-node', 'refresh']) client.on(event, forget);
    }
  }

  /** Connect (standalone or cluster), register the write script, ping. Rejects ONLINE_STORE_UNAVAILABLE. */
  static async create(options: RedisStoreOptions): Promise<RedisOnlineStore> {
    const common: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      commandTimeout: options.commandTimeoutMs ?? 1000,
      enableAutoPipelining: false,
    };
    let client: Client;
    const cluster = Boolean(options.clusterNodes?.length);
    if (cluster) {
      const nodes = options.clusterNodes!.map((s) => {
        const i = s.lastIndexOf(':');
        return { host: s.slice(0, i), port: Number(s.slice(i + 1)) };
      });
      const { lazyConnect, enableOfflineQueue, ...redisOptions } = common;
      const clusterOptions: ClusterOptions = {
        lazyConnect,
        enableOfflineQueue,
        redisOptions,
        clusterRetryStrategy: retry,
        slotsRefreshTimeout: options.connectTimeoutMs ?? 2000,
        // With a near cache most reads never reach a master, so no MOVED would tell of a
        // failover: the slot map is refreshed every second instead, and a new master set empties
        // the cache (ClusterTrackedReads).
        ...((options.nearCacheBytes ?? 0) > 0 ? { slotsRefreshInterval: NEAR_SLOTS_REFRESH_MS } : {}),
      };
      client = new Cluster(nodes, clusterOptions);
    } else {
      const url = options.url ?? 'redis://127.0.0.1:6379';
      if (url.startsWith('unix:') && parseRedisUrl(url) === null) {
        throw new PitstopError('CONFIG_INVALID', `online_store.url ${JSON.stringify(redactUrl(url))}: a Unix socket is unix://[[user]:password@]/absolute/path/to/redis.sock[?db=N]`);
      }
      client = ioredisClient(url, { ...common, retryStrategy: retry });
    }
    // ioredis emits 'error' on every failed reconnect; without a listener Node would crash.
    client.on('error', () => {});
    client.defineCommand(WRITE_ROWS_COMMAND, { lua: WRITE_ROWS_LUA });
    client.defineCommand(READ_ROWS_COMMAND, { lua: READ_ROWS_LUA, readOnly: true });
    const url = options.url ?? 'redis://127.0.0.1:6379';
    const nearBytes = options.nearCacheBytes ?? 0;
    if (nearBytes > 0 && (options.directReads === false || (!cluster && !RedisReadConnection.supports(url)))) {
      client.disconnect();
      throw new PitstopError('CONFIG_INVALID', `online_store.near_cache_mb needs reads over direct connections (direct_reads: true; on a standalone Redis, a redis:// or rediss:// url without query options)`);
    }
    let reader: RedisReadConnection | undefined;
    let near: TrackedReads | ClusterTrackedReads | undefined;
    const timeouts = { connectTimeoutMs: options.connectTimeoutMs ?? 2000, commandTimeoutMs: options.commandTimeoutMs ?? 1000 };
    try {
      await client.connect();
      // Standalone reads go over a connection of their own: one MGET, parsed in place.
      if (!cluster && options.directReads !== false && RedisReadConnection.supports(url)) {
        reader = await RedisReadConnection.connect({ url, ...timeouts });
      }
      if (nearBytes > 0) {
        try {
          near = cluster
            ? await ClusterTrackedReads.start({ ...timeouts, maxBytes: nearBytes }, (client as Cluster).nodes('master').map((n) => `${n.options.host}:${n.options.port}`))
            : await TrackedReads.start({ url, ...timeouts, maxBytes: nearBytes });
        } catch (e) {
          throw new Error(`near cache: setting up tracking (Redis 6 or newer: CLIENT TRACKING) failed: ${(e as Error)?.message ?? e}`, { cause: e });
        }
      }
      const store = new RedisOnlineStore(client, cluster, options, reader, near);
      await store.ping();
      return store;
    } catch (e) {
      client.disconnect();
      await reader?.close();
      await near?.close();
      throw unavailable(e, `connect to ${cluster ? options.clusterNodes!.join(',') : url}`);
    }
  }

  /** The near cache's counters, when there is one (serving exports them as metrics). */
  nearCacheStats(): NearCacheStats | undefined {
    return this.near?.cache.stats();
  }

  /** Every master answers (cluster), or the server answers and the read connection is up (standalone). */
  async ping(): Promise<void> {
    try {
      if (this.cluster) await Promise.all((this.client as Cluster).nodes('master').map((n) => n.ping()));
      else await (this.client as Redis).ping();
    } catch (e) {
      throw unavailable(e, 'ping');
    }
    if (this.reader && !this.reader.ready) throw unavailable(new Error('the read connection is down (reconnecting)'), 'ping');
  }

  /**
   * One round trip per store node (`readSpans`), rows returned as views into the reply.
   */
  async readRows(batch: OnlineReadBatch, options: ReadOptions = {}): Promise<(Buffer | null)[][]> {
    let total = 0;
    for (const keys of batch.entityKeys) total += keys.length;
    const spans = new Int32Array(2 * total);
    const data = await this.readSpans(batch, spans, options);
    let r = 0;
    return batch.entityKeys.map((keys) => {
      const rows: (Buffer | null)[] = new Array(keys.length);
      for (let i = 0; i < keys.length; i++, r++) rows[i] = spans[2 * r] < 0 ? null : data.subarray(spans[2 * r], spans[2 * r + 1]);
      return rows;
    });
  }

  /**
   * The read of `readRows` as spans of one reply buffer, no object per row. Standalone: one
   * MGET over the read connection (`readSpansMget`), or one read-script call when the URL did
   * not allow that connection. Cluster: per master, for the keys whose slots it owns, one write
   * of MGETs over its direct connection, or one script call (`readSpansCluster`).
   */
  async readSpans(batch: OnlineReadBatch, spans: Int32Array, options: ReadOptions = {}): Promise<Buffer> {
    const { views, entityKeys } = batch;
    // Row numbers start at base[j] for view j (ports.ts: views first, then entity rows).
    const base: number[] = new Array(views.length);
    let total = 0;
    for (let j = 0; j < views.length; j++) {
      base[j] = total;
      total += entityKeys[j].length;
    }
    if (spans.length < 2 * total) throw new PitstopError('INTERNAL', `online read: ${spans.length} span slots for ${total} rows`);
    if (total === 0) return EMPTY;
    if (this.near) {
      const tracked = this.near instanceof TrackedReads ? this.near.usable() : this.near.usable(this.clusterMasters());
      if (tracked) return this.readSpansNear(batch, total, spans, options, tracked);
    }
    if (this.reader) return this.readSpansMget(batch, total, spans, options);
    const groups = groupViews(entityKeys);
    let keyCount = 0;
    for (const [entities] of groups) keyCount += entities.length;
    if (keyCount === 0) return EMPTY;
    if (this.cluster) return this.readSpansCluster(batch, spans, base, groups, options);
    const run: Promise<Buffer> = (this.client as any)[READ_ROWS_BUFFER](0, this.readArgs(views, groups));
    let reply: Buffer;
    try {
      reply = options.signal ? await abortable(run, options.signal) : await run;
    } catch (e) {
      throw unavailable(e, 'read');
    }
    spanReply(reply, 0, groups, undefined, base, spans);
    return reply;
  }

  /**
   * The standalone read: one `MGET` of every row, views first, then entity rows, so element r
   * of the reply is row r of the port's numbering, its span set by the reply parser itself. The
   * command is built in the read connection's reusable buffer (RESP: a length line and the key
   * per row).
   */
  private async readSpansMget(batch: OnlineReadBatch, total: number, spans: Int32Array, options: ReadOptions): Promise<Buffer> {
    const { views, entityKeys } = batch;
    let bytes = mgetHeaderLength(total);
    for (let j = 0; j < views.length; j++) {
      const prefixes = this.bulkPrefixes(views[j]);
      const offsets = entityKeys[j].offsets;
      for (let i = 0; i < entityKeys[j].length; i++) {
        const n = offsets[i + 1] - offsets[i];
        bytes += (prefixes[n] ?? this.bulkPrefix(views[j], n)).length + n + 3;
      }
    }
    const reader = this.reader!;
    const cmd = reader.commandBuffer(bytes);
    let at = writeMgetHeader(cmd, 0, total);
    for (let j = 0; j < views.length; j++) {
      const prefixes = this.bulkPrefixes(views[j]);
      const { bytes: kb, offsets, length } = entityKeys[j];
      for (let i = 0; i < length; i++) at = writeKeyBulk(cmd, at, prefixes[offsets[i + 1] - offsets[i]], kb, offsets[i], offsets[i + 1]);
    }
    try {
      return await reader.mget(cmd.subarray(0, at), total, spans, options.signal);
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw new PitstopError('DEADLINE_EXCEEDED', 'online read aborted');
      throw unavailable(e, 'read');
    }
  }

  /**
   * The read through the near cache: rows it holds (or knows absent) from memory; the others with
   * one MGET over the tracked connection, which stores them on their way back unless an
   * invalidation came first (near-cache.ts). The answer is one buffer, as the port wants: cached
   * rows copied in, then the fetched ones (or the MGET reply itself when nothing was cached).
   */
  private async readSpansNear(batch: OnlineReadBatch, total: number, spans: Int32Array, options: ReadOptions, tracked: Tracked): Promise<Buffer> {
    const { views, entityKeys } = batch;
    const cache = this.near!.cache;
    // Per row: its cache entry's address, MISS, or NO_ROW (cached as absent); and its hash.
    const hit = new Float64Array(total);
    const hashes = new Uint32Array(total);
    const tables: number[] = new Array(views.length);
    const missView: number[] = [];
    const missEntity: number[] = [];
    const missHash: number[] = [];
    const missTicket: number[] = [];
    let hitBytes = 0;
    let r = 0;
    // Views with the same join keys share one entity key list (ports.ts): its hashes once.
    let lastKeys: EntityKeyList | undefined;
    let keyHashes: Int32Array = EMPTY_HASHES;
    const now = Date.now();
    for (let j = 0; j < views.length; j++) {
      const table = (tables[j] = cache.table(this.keyHead(views[j])));
      // A cached row with an event time this old may have expired in Redis (its PXAT is its
      // write time + ttl + grace, and it was written at or after its event time): read it again.
      const ttl = batch.ttlMs?.[j] ?? 0;
      const staleAtOrBefore = ttl > 0 ? now - ttl - expiryGraceMs(ttl) : -Infinity;
      const keys = entityKeys[j];
      const { bytes: kb, offsets } = keys;
      if (keys !== lastKeys) {
        lastKeys = keys;
        keyHashes = new Int32Array(keys.length);
        for (let i = 0; i < keys.length; i++) keyHashes[i] = keyHash(kb, offsets[i], offsets[i + 1]);
      }
      cache.lookupMany(table, kb, offsets, keyHashes, keys.length, hashes, hit, r);
      for (let i = 0; i < keys.length; i++, r++) {
        const hash = hashes[r];
        let a = hit[r];
        const len = a >= 0 ? cache.rowLength(a) : -1;
        if (len >= 0 && ttl > 0 && cache.rowEventMs(a) <= staleAtOrBefore) {
          cache.notUsed();
          a = MISS;
        }
        if (a < 0) {
          hit[r] = MISS;
          missView.push(j);
          missEntity.push(i);
          missHash.push(hash);
          missTicket.push(cache.ticket(hash));
        } else {
          hit[r] = len < 0 ? NO_ROW : a;
          if (len > 0) hitBytes += len;
        }
      }
    }
    const m = missView.length;
    // Cached rows are copied out now: an address is valid only until the next fill, and other
    // requests' fills run while this one waits for Redis.
    let cached = EMPTY;
    if (m < total) {
      cached = Buffer.allocUnsafe(hitBytes);
      let at = 0;
      for (r = 0; r < total; r++) {
        const a = hit[r];
        if (a === MISS) continue;
        if (a === NO_ROW) {
          spans[2 * r] = -1;
          spans[2 * r + 1] = -1;
          continue;
        }
        spans[2 * r] = at;
        at += cache.copyRow(a, cached, at);
        spans[2 * r + 1] = at;
      }
      if (m === 0) return cached;
    }
    const missSpans = m === total ? spans : new Int32Array(2 * m);
    let reply: Buffer;
    cache.pending += m;
    try {
      reply = await (tracked instanceof RedisReadConnection
        ? this.fetchMisses(tracked, batch, missView, missEntity, missSpans, options)
        : this.fetchMissesCluster(tracked, batch, missView, missEntity, missSpans, options));
    } catch (e) {
      if (e === BYPASS) return this.readSpansEach(batch, spans, options);
      if ((e as Error)?.name === 'AbortError') throw new PitstopError('DEADLINE_EXCEEDED', 'online read aborted');
      throw unavailable(e, 'read');
    } finally {
      cache.pending -= m;
    }
    for (let k = 0; k < m; k++) {
      const s = missSpans[2 * k];
      const { bytes: kb, offsets } = entityKeys[missView[k]];
      const i = missEntity[k];
      cache.fill(tables[missView[k]], kb, missHash[k], missTicket[k], s < 0 ? null : reply.subarray(s, missSpans[2 * k + 1]), offsets[i], offsets[i + 1]);
    }
    // Nothing was cached: the reply is the answer, spans already in place.
    if (m === total) return reply;
    let fetchedBytes = 0;
    for (let k = 0; k < m; k++) if (missSpans[2 * k] >= 0) fetchedBytes += missSpans[2 * k + 1] - missSpans[2 * k];
    // One buffer, as the port wants: the cached rows (spans already set), then the fetched ones.
    const out = Buffer.allocUnsafe(hitBytes + fetchedBytes);
    cached.copy(out, 0);
    let at = hitBytes;
    let k = 0;
    for (r = 0; r < total; r++) {
      if (hit[r] !== MISS) continue;
      // A fetched row: misses come in row order.
      const s = missSpans[2 * k];
      const e = missSpans[2 * k + 1];
      k++;
      if (s < 0) {
        spans[2 * r] = -1;
        spans[2 * r + 1] = -1;
        continue;
      }
      spans[2 * r] = at;
      at += reply.copy(out, at, s, e);
      spans[2 * r + 1] = at;
    }
    return out;
  }

  /** A near-cache read's misses on a standalone server: one MGET over the tracked connection. */
  private fetchMisses(tracked: RedisReadConnection, batch: OnlineReadBatch, missView: readonly number[], missEntity: readonly number[], missSpans: Int32Array, options: ReadOptions): Promise<Buffer> {
    const { views, entityKeys } = batch;
    const m = missView.length;
    let bytes = mgetHeaderLength(m);
    for (let k = 0; k < m; k++) {
      const { offsets } = entityKeys[missView[k]];
      const n = offsets[missEntity[k] + 1] - offsets[missEntity[k]];
      bytes += this.bulkPrefix(views[missView[k]], n).length + n + 3;
    }
    const cmd = tracked.commandBuffer(bytes);
    let at = writeMgetHeader(cmd, 0, m);
    for (let k = 0; k < m; k++) {
      const { bytes: kb, offsets } = entityKeys[missView[k]];
      const s = offsets[missEntity[k]];
      const e = offsets[missEntity[k] + 1];
      at = writeKeyBulk(cmd, at, this.bulkPrefixes(views[missView[k]])[e - s], kb, s, e);
    }
    return tracked.mget(cmd.subarray(0, at), m, missSpans, options.signal);
  }

  /**
   * A near-cache read's misses on a cluster: to each master, over its tracked connection, one
   * write of single-key MGETs (any slot mix), the replies joined into one buffer. Rejects with
   * BYPASS when a miss's slot has no master with a tracked connection, or a master answers MOVED
   * or ASK (the slot map is stale): the read then goes around the cache.
   */
  private async fetchMissesCluster(conns: ReadonlyMap<string, RedisReadConnection>, batch: OnlineReadBatch, missView: readonly number[], missEntity: readonly number[], missSpans: Int32Array, options: ReadOptions): Promise<Buffer> {
    const { views, entityKeys } = batch;
    const slots = (this.client as Cluster).slots;
    // Per master: its connection and the misses it owns (synchronously: `conns` is reused by the next read).
    const byNode = new Map<RedisReadConnection, number[]>();
    for (let k = 0; k < missView.length; k++) {
      const { bytes: kb, offsets } = entityKeys[missView[k]];
      const conn = conns.get(slots[this.keys.slot(kb, offsets[missEntity[k]], offsets[missEntity[k] + 1])]?.[0] as string);
      if (!conn) throw BYPASS;
      let ks = byNode.get(conn);
      if (!ks) byNode.set(conn, (ks = []));
      ks.push(k);
    }
    const sends = [...byNode].map(([conn, ks]) => {
      let bytes = 0;
      for (const k of ks) {
        const { offsets } = entityKeys[missView[k]];
        const n = offsets[missEntity[k] + 1] - offsets[missEntity[k]];
        bytes += mgetHeaderLength(1) + this.bulkPrefix(views[missView[k]], n).length + n + 3;
      }
      const cmd = conn.commandBuffer(bytes);
      let at = 0;
      for (const k of ks) {
        const { bytes: kb, offsets } = entityKeys[missView[k]];
        const s = offsets[missEntity[k]];
        const e = offsets[missEntity[k] + 1];
        at = writeMgetHeader(cmd, at, 1);
        at = writeKeyBulk(cmd, at, this.bulkPrefixes(views[missView[k]])[e - s], kb, s, e);
      }
      const counts = new Array<number>(ks.length).fill(1);
      const bases = ks.map((_, i) => i);
      const nodeSpans = new Int32Array(2 * ks.length);
      return { ks, nodeSpans, replies: conn.mgetMany(cmd.subarray(0, at), counts, bases, nodeSpans, options.signal) };
    });
    let replies: Buffer[][];
    try {
      replies = await Promise.all(sends.map((s) => s.replies));
    } catch (e) {
      if (REDIRECTED.test((e as Error)?.message ?? '')) throw BYPASS;
      throw e;
    }
    const all = replies.flat();
    const data = all.length === 1 ? all[0] : Buffer.concat(all);
    let offset = 0;
    for (let n = 0; n < sends.length; n++) {
      const { ks, nodeSpans } = sends[n];
      for (let i = 0; i < ks.length; i++) {
        const k = ks[i];
        if (nodeSpans[2 * i] < 0) missSpans[2 * k] = missSpans[2 * k + 1] = -1;
        else {
          missSpans[2 * k] = nodeSpans[2 * i] + offset;
          missSpans[2 * k + 1] = nodeSpans[2 * i + 1] + offset;
        }
        offset += replies[n][i].length;
      }
    }
    return data;
  }

  /**
   * The cluster's masters, `host:port` (as in its slot map) to client. Built on first need after
   * ioredis last changed its pool: it adds and drops nodes with `+node` / `-node`, and changes a
   * node's role only while refreshing its slot map, which ends with `refresh` (the constructor
   * listens for all three), so a read makes no Map of its own.
   */
  private clusterMasters(): Map<string, Redis> {
    let masters = this.masters;
    if (masters === undefined) {
      masters = this.masters = new Map<string, Redis>();
      for (const n of (this.client as Cluster).nodes('master')) masters.set(`${n.options.host}:${n.options.port}`, n);
    }
    return masters;
  }

  private masters: Map<string, Redis> | undefined;

  /** Per view storage id, the row key head as a latin1 string (the near cache's table names). */
  private readonly headStrings = new Map<string, string>();

  private keyHead(view: string): string {
    let h = this.headStrings.get(view);
    if (h === undefined) this.headStrings.set(view, (h = this.keys.head(view).toString('latin1')));
    return h;
  }

  /** Per view storage id, per entity key length: `$<key length>\r\n<key head>`, a row key's RESP bulk string up to its entity bytes. */
  private readonly prefixesByView = new Map<string, Buffer[]>();

  private bulkPrefixes(view: string): Buffer[] {
    let byLength = this.prefixesByView.get(view);
    if (!byLength) this.prefixesByView.set(view, (byLength = []));
    return byLength;
  }

  private bulkPrefix(view: string, entityLength: number): Buffer {
    const byLength = this.bulkPrefixes(view);
    let p = byLength[entityLength];
    if (!p) {
      const head = this.keys.head(view);
      const len = head.length + entityLength + 1;
      p = byLength[entityLength] = Buffer.allocUnsafe(bulkHeaderLength(len) + head.length);
      head.copy(p, writeBulkHeader(p, 0, len));
    }
    return p;
  }

  /**
   * The read script's arguments (read-script.ts) for the entities of every group, or for the
   * entities `only[g]` (indices, in order) of group g. The row keys go packed into ARGV[1], one
   * Buffer, not one per key, entity by entity, each entity's keys in its group's view order; a
   * fresh Buffer per read (ioredis may hold it in its offline queue).
   */
  private readArgs(views: readonly string[], groups: ReadGroup[], only?: (number[] | undefined)[]): (Buffer | number | string)[] {
    let bytes = 0;
    for (let g = 0; g < groups.length; g++) {
      const entities = groups[g][0];
      const sel = only?.[g];
      if (only && !sel) continue;
      const n = sel ? sel.length : entities.length;
      const js = groups[g][1];
      let heads = 0;
      for (let v = 0; v < js.length; v++) heads += 4 + this.keys.head(views[js[v]]).length + 1;
      bytes += n * heads;
      const offsets = entities.offsets;
      for (let k = 0; k < n; k++) {
        const i = sel ? sel[k] : k;
        bytes += js.length * (offsets[i + 1] - offsets[i]);
      }
    }
    const packed = Buffer.allocUnsafe(bytes);
    const argv: (Buffer | number | string)[] = [packed];
    let at = 0;
    for (let g = 0; g < groups.length; g++) {
      const [entities, js] = groups[g];
      const sel = only?.[g];
      if (only && !sel) continue;
      const n = sel ? sel.length : entities.length;
      argv.push(n, js.length);
      const heads = js.map((j) => this.keys.head(views[j]));
      // Byte writes, `set` for the head: as in readSpansMget, Buffer.copy and writeUInt32BE per
      // key cost more than the bytes they move.
      const { bytes: kb, offsets } = entities;
      for (let k = 0; k < n; k++) {
        const i = sel ? sel[k] : k;
        const s = offsets[i];
        const e = offsets[i + 1];
        for (let v = 0; v < heads.length; v++) {
          const head = heads[v];
          const len = head.length + e - s + 1;
          packed[at] = len >>> 24;
          packed[at + 1] = (len >>> 16) & 0xff;
          packed[at + 2] = (len >>> 8) & 0xff;
          packed[at + 3] = len & 0xff;
          packed.set(head, at + 4);
          at += 4 + head.length;
          for (let b = s; b < e; b++) packed[at++] = kb[b];
          packed[at++] = 0x7d; // '}' closing the hash tag
        }
      }
    }
    return argv;
  }

  /**
   * The cluster read: keys grouped by the master that owns their slot, one read-script call per
   * master (`allow-cross-slot-keys` lets one call read keys of several slots as long as that
   * master owns them all), the replies joined into one buffer. Against the pipeline of HMGETs
   * per node it replaced (bench/serving/read-cluster.ts, local 3-master cluster, 2026-12-06):
   * client CPU per read 933 -> 183 µs at 100 entities x 5 views and 3,346 -> 244 µs at 500 x 1,
   * wall 827 -> 326 µs and 2,886 -> 511 µs; the same at 1 entity. A call meeting a key its master
   * no longer owns (resharding: "non local key", MOVED, ASK, TRYAGAIN), or a slot with no known
   * master, sends the whole read through `readEach`, whose commands ioredis redirects.
   */
  private async readSpansCluster(batch: OnlineReadBatch, spans: Int32Array, base: number[], groups: ReadGroup[], options: ReadOptions): Promise<Buffer> {
    const slots = (this.client as Cluster).slots;
    const masters = this.clusterMasters();
    const perNode = new Map<string, { client: Redis; only: (number[] | undefined)[] }>();
    for (let g = 0; g < groups.length; g++) {
      const { bytes: kb, offsets, length } = groups[g][0];
      for (let i = 0; i < length; i++) {
        const node = slots[this.keys.slot(kb, offsets[i], offsets[i + 1])]?.[0];
        const client = node === undefined ? undefined : masters.get(node);
        if (!client) return this.readSpansEach(batch, spans, options);
        let r = perNode.get(node!);
        if (!r) perNode.set(node!, (r = { client, only: new Array(groups.length) }));
        (r.only[g] ??= []).push(i);
      }
    }
    if (this.directReads) {
      this.pruneNodeReaders(masters);
      const readers: RedisReadConnection[] = [];
      for (const node of perNode.keys()) {
        const reader = this.nodeReader(node);
        if (reader) readers.push(reader);
      }
      if (readers.length === perNode.size) return this.readSpansClusterMget(batch, spans, base, groups, [...perNode.values()].map((r) => r.only), readers, options);
    }
    const reads = [...perNode.values()];
    const run = Promise.all(reads.map((r) => evalRead(r.client, this.readArgs(batch.views, groups, r.only))));
    let replies: Buffer[];
    try {
      replies = options.signal ? await abortable(run, options.signal) : await run;
    } catch (e) {
      if (REDIRECTED.test((e as Error)?.message ?? '')) return this.readSpansEach(batch, spans, options);
      throw unavailable(e, 'read');
    }
    const data = replies.length === 1 ? replies[0] : Buffer.concat(replies);
    let offset = 0;
    for (let n = 0; n < reads.length; n++) {
      spanReply(replies[n], offset, groups, reads[n].only, base, spans);
      offset += replies[n].length;
    }
    return data;
  }

  /**
   * The cluster read over direct connections: to each master one write holding an MGET per
   * entity (an entity's rows share a slot; one MGET must keep to one slot), replies parsed in
   * place (`mgetMany`), then joined into one buffer with the spans moved to match. A MOVED / ASK
   * (stale slot map) sends the read through `readEach`, as the script path does.
   */
  private async readSpansClusterMget(batch: OnlineReadBatch, spans: Int32Array, base: number[], groups: ReadGroup[], perNode: (number[] | undefined)[][], readers: RedisReadConnection[], options: ReadOptions): Promise<Buffer> {
    const { views } = batch;
    const sends = perNode.map((only, n) => {
      // Sizes first (the command goes in the reader's reusable buffer), rows of each element.
      let elements = 0;
      let bytes = 0;
      for (let g = 0; g < groups.length; g++) {
        const sel = only[g];
        if (!sel) continue;
        const [{ offsets }, js] = groups[g];
        elements += sel.length * js.length;
        for (const i of sel) {
          const n = offsets[i + 1] - offsets[i];
          bytes += mgetHeaderLength(js.length);
          for (const j of js) bytes += this.bulkPrefix(views[j], n).length + n + 3;
        }
      }
      const counts: number[] = [];
      const bases: number[] = [];
      const rowOf = new Int32Array(elements);
      const cmd = readers[n].commandBuffer(bytes);
      let at = 0;
      let k = 0;
      for (let g = 0; g < groups.length; g++) {
        const sel = only[g];
        if (!sel) continue;
        const [{ bytes: kb, offsets }, js] = groups[g];
        for (const i of sel) {
          const s = offsets[i];
          const e = offsets[i + 1];
          counts.push(js.length);
          bases.push(k);
          at = writeMgetHeader(cmd, at, js.length);
          for (const j of js) {
            at = writeKeyBulk(cmd, at, this.bulkPrefixes(views[j])[e - s], kb, s, e);
            rowOf[k++] = base[j] + i;
          }
        }
      }
      const nodeSpans = new Int32Array(2 * elements);
      return { counts, bases, rowOf, nodeSpans, replies: readers[n].mgetMany(cmd.subarray(0, at), counts, bases, nodeSpans, options.signal) };
    });
    let replies: Buffer[][];
    try {
      replies = await Promise.all(sends.map((s) => s.replies));
    } catch (e) {
      if ((e as Error)?.name === 'AbortError') throw new PitstopError('DEADLINE_EXCEEDED', 'online read aborted');
      if (REDIRECTED.test((e as Error)?.message ?? '')) return this.readSpansEach(batch, spans, options);
      throw unavailable(e, 'read');
    }
    const all = replies.flat();
    const data = all.length === 1 ? all[0] : Buffer.concat(all);
    let offset = 0;
    for (let n = 0; n < sends.length; n++) {
      const { counts, bases, rowOf, nodeSpans } = sends[n];
      for (let m = 0; m < counts.length; m++) {
        for (let k = bases[m]; k < bases[m] + counts[m]; k++) {
          const r = 2 * rowOf[k];
          if (nodeSpans[2 * k] < 0) spans[r] = spans[r + 1] = -1;
          else {
            spans[r] = nodeSpans[2 * k] + offset;
            spans[r + 1] = nodeSpans[2 * k + 1] + offset;
          }
        }
        offset += replies[n][m].length;
      }
    }
    return data;
  }

  /** A ready direct connection to cluster node `node` (`host:port`), or undefined, starting one in the background when there is none. */
  private nodeReader(node: string): RedisReadConnection | undefined {
    const reader = this.nodeReaders.get(node);
    return reader?.ready ? reader : undefined;
  }


  /** Closes the direct connections of nodes that are no longer masters (failover, resharding). */
  private pruneNodeReaders(masters: Map<string, unknown>): void {
    this.nodeReaders.prune(masters);
  }


  /** `readEach`'s rows copied into one buffer as spans (cluster fallback). */
  private async readSpansEach(batch: OnlineReadBatch, spans: Int32Array, options: ReadOptions): Promise<Buffer> {
    return packRows(await this.readEach(batch, options), spans);
  }

  /**
   * The cluster fallback read: one MGET per entity and group (an entity's rows share a slot),
   * each sent on its own, so ioredis follows MOVED / ASK per key (a pipeline must keep to one
   * node). Slower, and only used while the slot map is stale; it asks ioredis to refresh the map.
   */
  private async readEach(batch: OnlineReadBatch, options: ReadOptions): Promise<(Buffer | null)[][]> {
    const { views, entityKeys } = batch;
    const result = entityKeys.map((keys) => new Array<Buffer | null>(keys.length).fill(null));
    (this.client as Cluster).refreshSlotsCache?.();
    const reads: Promise<void>[] = [];
    for (const [keys, js] of groupViews(entityKeys)) {
      for (let i = 0; i < keys.length; i++) {
        const entity = keys.key(i);
        reads.push(
          this.client.mgetBuffer(js.map((j) => this.keys.key(views[j], entity))).then((vals) => {
            for (let v = 0; v < js.length; v++) result[js[v]][i] = vals[v];
          }),
        );
      }
    }
    const run = Promise.all(reads);
    try {
      await (options.signal ? abortable(run, options.signal) : run);
    } catch (e) {
      throw unavailable(e, 'read');
    }
    return result;
  }

  /**
   * Pipelined newer-wins script calls, each carrying up to `rowsPerScript` rows (all rows of a
   * call share a hash slot on a cluster). With `options.atomic` every row goes in one script call
   * on a standalone server (one call per hash slot on a cluster), so the batch is all or nothing.
   */
  async writeRows(rows: readonly OnlineWrite[], options: WriteOptions = {}): Promise<WriteResult> {
    if (!this.near) return this.write(rows, options);
    try {
      return await this.write(rows, options);
    } finally {
      // This process reads its own writes: Redis' invalidations for them come on another
      // connection and may arrive after the write's answer (a failed call may have applied a
      // prefix, so it invalidates too).
      const cache = this.near.cache;
      for (let i = 0; i < rows.length; i++) cache.invalidate(this.keyHead(rows[i].view), rows[i].entity);
    }
  }

  private async write(rows: readonly OnlineWrite[], options: WriteOptions): Promise<WriteResult> {
    if (rows.length === 0) return { written: 0, stale: 0 };
    for (let i = 0; i < rows.length; i++) {
      // The script reads the header of every row; a short one would fail it halfway.
      if (rows[i].row.length < ROW_HEADER_BYTES) throw new PitstopError('INTERNAL', `online write: row ${i} of view ${rows[i].view} has ${rows[i].row.length} bytes, shorter than a row header`);
    }
    const per = options.atomic ? Infinity : this.rowsPerScript;
    // Atomic calls check every key's type before writing (write-script.ts: all or nothing).
    const check = options.atomic ? '1' : '0';
    const pipes = new Map<string, Pipe>();
    const atomicCalls: Promise<unknown>[] = [];
    const slots = this.cluster ? (this.client as Cluster).slots : undefined;
    // Standalone: one open call; cluster: one open call per hash slot.
    const open = new Map<number, ScriptCall>();
    const flush = (slot: number, c: ScriptCall) => {
      closeRun(c);
      if (options.atomic) {
        atomicCalls.push(this.atomicCall(c));
        open.delete(slot);
        return;
      }
      let p = pipes.get(c.node);
      if (!p) pipes.set(c.node, (p = this.client.pipeline()));
      // Arrays, not spread: ioredis flattens them, and a spread of 100k+ arguments overflows the stack.
      (p as any)[WRITE_ROWS_COMMAND](c.keys.length, c.keys, c.argv);
      open.delete(slot);
    };
    // Rows mostly share an expiry: convert it to a string once, not per row.
    let lastExp: number | undefined = NaN;
    let expArg = '';
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i];
      const key = this.keys.key(r.view, r.entity);
      let slot = 0;
      let node = '';
      if (slots) {
        slot = this.keys.slot(r.entity);
        node = slots[slot]?.[0] ?? `slot${slot}`;
      }
      let c = open.get(slot);
      if (!c) open.set(slot, (c = { node, keys: [], argv: [check], runRows: [], runExp: NaN, runExpArg: '' }));
      if (r.expireAtMs !== lastExp) expArg = (lastExp = r.expireAtMs) === undefined ? '' : String(Math.ceil(r.expireAtMs!));
      if (c.runRows.length === 0 || r.expireAtMs !== c.runExp) {
        // A new run (rows sharing an expiry).
        closeRun(c);
        c.runExp = r.expireAtMs;
        c.runExpArg = expArg;
      }
      c.keys.push(key);
      c.runRows.push(r.row);
      if (c.keys.length >= per) flush(slot, c);
    }
    for (const [slot, c] of open) flush(slot, c);
    if (options.atomic) {
      let counts: unknown[];
      try {
        counts = await Promise.all(atomicCalls);
      } catch (e) {
        throw unavailable(e, 'write');
      }
      const written = counts.reduce<number>((a, n) => a + (n as number), 0);
      return { written, stale: rows.length - written };
    }
    let replies;
    try {
      replies = await Promise.all([...pipes.values()].map((p) => p.exec()));
    } catch (e) {
      throw unavailable(e, 'write');
    }
    let written = 0;
    for (const rs of replies) {
      for (const [err, n] of rs!) {
        if (err) throw unavailable(err, 'write');
        written += n as number;
      }
    }
    return { written, stale: rows.length - written };
  }

  /**
   * One atomic script call, sent on its own with a timeout scaled to its row count
   * (`commandTimeoutMs + rows × atomicMsPerRow`) instead of the client's per-command timeout:
   * a big batch that Redis is still applying is not reported as failed. EVALSHA, and EVAL when
   * the server does not have the script (first use, restart, SCRIPT FLUSH).
   */
  private async atomicCall(c: ScriptCall): Promise<unknown> {
    const timeoutMs = Math.ceil(this.commandTimeoutMs + c.keys.length * this.atomicMsPerRow);
    const send = (name: 'evalsha' | 'eval', script: string) => {
      const cmd = new Command(name, [script, c.keys.length, c.keys, c.argv]);
      // Set before sending: ioredis keeps an existing timer and skips its commandTimeout.
      cmd.setTimeout(timeoutMs);
      return this.client.sendCommand(cmd);
    };
    try {
      return await send('evalsha', WRITE_ROWS_SHA);
    } catch (e) {
      if (!String((e as Error)?.message).includes('NOSCRIPT')) throw e;
      return send('eval', WRITE_ROWS_LUA);
    }
  }

  /** The raw client, for tests and tools (e.g. counting keys). */
  get redis(): Client {
    return this.client;
  }

  get rowKeys(): RowKeys {
    return this.keys;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.near?.close();
    await this.reader?.close();
    await this.nodeReaders.close();
    try {
      await this.client.quit();
    } catch {
      this.client.disconnect();
    }
  }
}

/**
 * Writes one row key as a RESP bulk string at `at` (room checked by the caller): `prefix` (from
 * `bulkPrefix`: the length line and the key head), the entity key (`entity[from .. to)`), `}`, CRLF; returns the end.
 * The head with `set`, the entity key (a few bytes) with a loop: 9 µs for 500 keys, where
 * Buffer.copy for both took 19-33 µs (its call into C++ costs more than the copying).
 */
function writeKeyBulk(cmd: Buffer, at: number, prefix: Buffer, entity: Uint8Array, from: number, to: number): number {
  cmd.set(prefix, at);
  at += prefix.length;
  for (let b = from; b < to; b++) cmd[at++] = entity[b];
  cmd[at++] = 0x7d; // '}' closing the hash tag
  cmd[at++] = 13;
  cmd[at++] = 10;
  return at;
}

/** A group: views (indices) sharing one entity key list (the same reference), read with one MGET per entity. */
type ReadGroup = [entities: EntityKeyList, views: number[]];

const READ_ROWS_SHA = createHash('sha1').update(READ_ROWS_LUA).digest('hex');
/** Errors of a cluster script call meaning "a key is not on this node (any more)". */
const REDIRECTED = /non local key|MOVED|ASK|TRYAGAIN|CLUSTERDOWN/;

/** The read script on one cluster node: EVALSHA, EVAL when the node does not have it yet. */
async function evalRead(node: Redis, argv: (Buffer | number | string)[]): Promise<Buffer> {
  try {
    return (await node.callBuffer('EVALSHA', [READ_ROWS_SHA, 0, ...argv])) as Buffer;
  } catch (e) {
    if (!String((e as Error)?.message).startsWith('NOSCRIPT')) throw e;
    return (await node.callBuffer('EVAL', [READ_ROWS_LUA, 0, ...argv])) as Buffer;
  }
}

/**
 * Sets `spans` from one read-script reply: one entry per key in argument order (every entity of
 * each group, or the entities `only[g]`), each its group's fields; `offset` is where `reply`
 * starts in the buffer the spans point into.
 */
function spanReply(reply: Buffer, offset: number, groups: ReadGroup[], only: (number[] | undefined)[] | undefined, base: number[], spans: Int32Array): void {
  let keyCount = 0;
  for (let g = 0; g < groups.length; g++) keyCount += only ? (only[g]?.length ?? 0) : groups[g][0].length;
  const rd = new ReadReply(reply);
  rd.array(keyCount);
  for (let g = 0; g < groups.length; g++) {
    const [entities, js] = groups[g];
    const sel = only?.[g];
    if (only && !sel) continue;
    const n = sel ? sel.length : entities.length;
    for (let k = 0; k < n; k++) {
      const i = sel ? sel[k] : k;
      rd.array(js.length);
      for (let v = 0; v < js.length; v++) {
        const r = 2 * (base[js[v]] + i);
        if (rd.row()) {
          spans[r] = rd.start + offset;
          spans[r + 1] = rd.end + offset;
        } else spans[r] = spans[r + 1] = -1;
      }
    }
  }
  rd.done();
}

/** Views grouped by their entity key list (the same reference). */
function groupViews(entityKeys: readonly EntityKeyList[]): ReadGroup[] {
  const groups = new Map<EntityKeyList, number[]>();
  for (let j = 0; j < entityKeys.length; j++) {
    const g = groups.get(entityKeys[j]);
    if (g) g.push(j);
    else groups.set(entityKeys[j], [j]);
  }
  return [...groups];
}

function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new PitstopError('DEADLINE_EXCEEDED', 'online read aborted'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new PitstopError('DEADLINE_EXCEEDED', 'online read aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
