/**
 * The near cache's connections (config `online_store.near_cache_mb`; Redis 6+, standalone, or a
 * cluster through `ClusterTrackedReads` below): Redis' server-assisted client-side caching in its
 * REDIRECT form (https://redis.io/docs/latest/develop/reference/client-side-caching/).
 *
 * - A listener connection (ioredis) subscribed to `__redis__:invalidate`.
 * - A read connection of its own (read-connection.ts) with `CLIENT TRACKING ON REDIRECT <the
 *   listener's id>`: Redis remembers every key read over it, and when one of them is written,
 *   deleted, expires or is evicted, it sends the key to the listener, once.
 *
 * Cache misses are read over the tracked connection, so everything the cache holds was read
 * there and is tracked. The cache is used only while both connections are up and the tracked
 * one has not reconnected since it was set up: whenever either goes down (an invalidation could
 * have been lost) the cache is emptied, and reads bypass it (going over the store's main read
 * connection) until the listener is back, has subscribed, and a new tracked connection is ready.
 * A FLUSHDB or FLUSHALL (an invalidation with no keys) empties it too.
 *
 * What a cached read can miss: a write becomes visible to cached reads when its invalidation
 * arrives, a network hop after the write (the same holds for any replica read). An expired key's
 * invalidation comes only when Redis deletes it (on access or in its expiry cycle), so the store
 * reads a cached row again once it may have expired (event time + ttl + grace passed; the
 * batch's `ttlMs`): it then reads as Redis has it.
 */
import { Redis } from 'ioredis';
import { ioredisClient } from './redis-url.ts';
import { NearCache } from './near-cache.ts';
import { RedisReadConnection } from './read-connection.ts';
import { PerNode } from './per-node.ts';

const CHANNEL = '__redis__:invalidate';

export interface TrackedReadsOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** The cache's budget in bytes. */
  maxBytes: number;
}

export class TrackedReads {
  readonly cache: NearCache;
  /** The tracked read connection while the cache may be used; null while setting up or down. */
  private conn: RedisReadConnection | null = null;
  /** `conn.generation` when it was set up: a reconnect since means tracking was lost meanwhile. */
  private generation = 0;
  /** Bumped on every (re)setup and close: a setup that finds it changed gives up. */
  private attempt = 0;
  private closed = false;
  /** The listener connection's client id once it has subscribed; null after it drops. */
  private listenerId: string | null = null;
  /** Bumped each time the listener connection drops. */
  private listenerEpoch = 0;
  private settingUp = false;
  private setupAgain = false;
  /** Why the cache is not in use, for messages and tests; '' while it is. */
  down = 'starting';

  private constructor(
    private readonly listener: Redis,
    private readonly options: TrackedReadsOptions,
    cache: NearCache | undefined,
  ) {
    this.cache = cache ?? new NearCache(options.maxBytes);
  }

  /**
   * Connects the listener and the tracked connection. Rejects (with Redis' error, e.g. an
   * unknown command on Redis < 6) when the first setup fails; later ones retry by themselves.
   * With `cache`, fills and empties that cache (shared by a cluster's masters:
   * `ClusterTrackedReads`) instead of one of its own.
   */
  static async start(options: TrackedReadsOptions, cache?: NearCache): Promise<TrackedReads> {
    const listener = ioredisClient(options.url, {
      lazyConnect: true,
      // RESP2: invalidations come as pub/sub messages on the channel, which ioredis hands over
      // (under RESP3, its default, they are push frames it drops).
      protocol: 2,
      // The id changes with every connection: setup() subscribes itself, after CLIENT ID.
      autoResubscribe: false,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs,
      commandTimeout: options.commandTimeoutMs,
      retryStrategy: (times) => Math.min(100 * times, 1000),
    });
    listener.on('error', () => {});
    const t = new TrackedReads(listener, options, cache);
    listener.on('messageBuffer', (channel: Buffer, message: unknown) => t.onMessage(channel, message));
    listener.on('close', () => t.lost('the invalidation listener disconnected'));
    try {
      await listener.connect();
      await t.setup();
    } catch (e) {
      await t.close();
      throw e;
    }
    // Reconnects: ioredis emits 'ready' again; set tracking up anew.
    listener.on('ready', () => t.retrySetup());
    return t;
  }

  /**
   * Sets tracking up, and again a second later for as long as that fails while the listener stays
   * up (a listener that goes down comes back with 'ready', which calls this again).
   */
  private retrySetup(): void {
    if (this.closed) return;
    // One setup at a time: a second 'ready' or a retry while one runs runs after it.
    if (this.settingUp) {
      this.setupAgain = true;
      return;
    }
    this.settingUp = true;
    this.setup()
      .catch((e: Error) => {
        if (this.closed) return;
        this.down = `setting up tracking failed: ${e.message}`;
        const timer = setTimeout(() => {
          if (this.conn === null && this.listener.status === 'ready') this.retrySetup();
        }, 1000);
        timer.unref();
      })
      .finally(() => {
        this.settingUp = false;
        if (this.setupAgain) {
          this.setupAgain = false;
          this.retrySetup();
        }
      });
  }

  /**
   * The tracked connection when the cache may be used now, else null (read around the cache).
   * Empties the cache when the tracked connection has reconnected since it was set up.
   */
  usable(): RedisReadConnection | null {
    const c = this.conn;
    if (c === null) return null;
    if (c.generation !== this.generation || !c.ready) {
      // Down, or reconnected by itself: keys written meanwhile sent no invalidation to us.
      this.cache.clear();
      if (!c.ready) return null;
      this.generation = c.generation;
    }
    return c;
  }

  /** The listener's id, subscribe, then a new tracked connection redirecting to it. */
  private async setup(): Promise<void> {
    const attempt = ++this.attempt;
    this.cache.clear();
    const old = this.conn;
    this.conn = null;
    void old?.close();
    // Once per listener connection: a subscribed connection takes no other command, and a retry
    // after a failed setup finds it subscribed already.
    let id = this.listenerId;
    if (id === null) {
      const epoch = this.listenerEpoch;
      const got = String(await this.listener.client('ID'));
      await this.listener.subscribe(CHANNEL);
      // Subscribed on this listener connection unless it dropped meanwhile.
      if (epoch === this.listenerEpoch) this.listenerId = got;
      if (attempt !== this.attempt) return;
      id = got;
    }
    const conn = await RedisReadConnection.connect({
      url: this.options.url,
      connectTimeoutMs: this.options.connectTimeoutMs,
      commandTimeoutMs: this.options.commandTimeoutMs,
      setup: () => [['CLIENT', 'TRACKING', 'ON', 'REDIRECT', id]],
    });
    if (attempt !== this.attempt || this.closed || this.listener.status !== 'ready') {
      void conn.close();
      return;
    }
    this.cache.clear();
    this.generation = conn.generation;
    this.conn = conn;
    this.down = '';
  }

  /** A connection the cache depends on went away: empty it and read around it until setup runs again. */
  private lost(why: string): void {
    this.attempt++;
    this.listenerEpoch++;
    this.listenerId = null;
    this.cache.clear();
    const old = this.conn;
    this.conn = null;
    void old?.close();
    if (!this.closed) this.down = why;
  }

  private onMessage(channel: Buffer, message: unknown): void {
    if (channel.toString('latin1') !== CHANNEL) return;
    if (Array.isArray(message)) {
      for (const key of message) this.cache.invalidateKey(Buffer.isBuffer(key) ? key.toString('latin1') : String(key));
    } else {
      // No keys: FLUSHDB / FLUSHALL, or the server dropped tracking state wholesale.
      this.cache.clear();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.lost('closed');
    this.listener.disconnect();
  }
}

/**
 * The near cache on a Redis Cluster: a `TrackedReads` (listener and tracked connection) per
 * master, all filling one cache. Every row lives on one master (its entity's hash tag), is read
 * over that master's tracked connection, and that master sends its invalidations.
 *
 * The cache is used only while every master has a ready tracker; it is emptied whenever any of
 * them loses a connection (as on a standalone server) and whenever the set of masters changes
 * (a failover promotes a replica that never tracked our reads; a removed master can no longer
 * tell us anything). A slot moving between masters needs nothing more: MIGRATE deletes the keys
 * on the old master, whose tracker then invalidates them, and later reads track them on the new
 * master. Reads around the cache (while a tracker is starting or down) go the cluster's usual way.
 */
export class ClusterTrackedReads {
  readonly cache: NearCache;
  /** Per master: its tracker, started on first use (or by `start`). */
  private readonly nodes: PerNode<TrackedReads>;
  private closed = false;
  /** The masters the cache was last used with; a change empties the cache. */
  private masters = new Set<string>();
  private readonly connections = new Map<string, RedisReadConnection>();

  private constructor(options: Omit<TrackedReadsOptions, 'url'>) {
    this.cache = new NearCache(options.maxBytes);
    this.nodes = new PerNode((node) => TrackedReads.start({ ...options, url: nodeUrl(node) }, this.cache));
  }

  /**
   * Starts a tracker per master and waits for them all, so a cluster that cannot track
   * (Redis < 6) is refused at start. Masters that appear later are started on first use.
   */
  static async start(options: Omit<TrackedReadsOptions, 'url'>, masters: readonly string[]): Promise<ClusterTrackedReads> {
    const c = new ClusterTrackedReads(options);
    try {
      await Promise.all(masters.map((node) => c.nodes.openNow(node)));
    } catch (e) {
      await c.close();
      throw e;
    }
    c.masters = new Set(masters);
    return c;
  }

  /**
   * Per master, its tracked connection, when the cache may be used for a read now (every master
   * of `masters` has a ready tracker); else null, and trackers missing for new masters are
   * started in the background. The map is reused: read it before the next call.
   */
  usable(masters: ReadonlyMap<string, unknown>): ReadonlyMap<string, RedisReadConnection> | null {
    // No masters known (the cluster client is between connections): nothing can be tracked.
    if (this.closed || masters.size === 0) return null;
    let same = masters.size === this.masters.size;
    if (same) for (const node of masters.keys()) if (!this.masters.has(node)) same = false;
    if (!same) {
      // Failover or a master added or removed: what the cache holds was tracked by a master set
      // that is gone. Trackers of nodes no longer masters are closed.
      this.masters = new Set(masters.keys());
      this.cache.clear();
      this.nodes.prune(masters);
    }
    this.connections.clear();
    let all = true;
    for (const node of masters.keys()) {
      // Checked on every tracker even after one is found down: usable() empties the cache when
      // its tracked connection reconnected, which must not wait for a later read. A master
      // without a tracker gets one started.
      const conn = this.nodes.get(node)?.usable() ?? null;
      if (conn === null) all = false;
      else this.connections.set(node, conn);
    }
    return all ? this.connections : null;
  }

  /** Why the cache is not in use ('' while it is), for messages and tests. */
  get down(): string {
    if (this.closed) return 'closed';
    for (const [node, t] of this.nodes.entries()) {
      if (t === null) return `${node}: starting`;
      if (t.down !== '') return `${node}: ${t.down}`;
    }
    return '';
  }

  async close(): Promise<void> {
    this.closed = true;
    this.cache.clear();
    await this.nodes.close();
  }
}

/** `redis://host:port` of a slot-map node (`host:port`; an IPv6 host in brackets). */
export function nodeUrl(node: string): string {
  const colon = node.lastIndexOf(':');
  const host = node.slice(0, colon);
  return `redis://${host.includes(':') ? `[${host}]` : host}${node.slice(colon)}`;
}
