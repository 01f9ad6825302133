/**
 * pitstop.yaml: the feature repository's configuration. Validated once with zod (strict
 * objects, discriminated by `type`), defaulted here and nowhere else, then frozen.
 */
import { z } from 'zod';

const Name = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,63}$/, 'must be letters, digits and _, starting with a letter or _');

export const RedisOnlineStoreSchema = z.strictObject({
  type: z.literal('redis'),
  /** Redis URL: `redis://[[user]:password@]host:port[/db]`, `rediss://` (TLS) or `unix://[[user]:password@]/path/to/redis.sock[?db=N]`; default redis://127.0.0.1:6379. */
  url: z.string().default('redis://127.0.0.1:6379'),
  /** Seed nodes of a Redis Cluster (`host:port`); when set, `url` is ignored. */
  cluster_nodes: z.array(z.string()).optional(),
  /** Prefix of every key pitstop writes; default `ps`. */
  key_prefix: z.string().regex(/^[A-Za-z0-9_.-]{1,32}$/).default('ps'),
  /** Connect timeout in ms; default 2000. */
  connect_timeout_ms: z.number().int().positive().default(2000),
  /** Per-command timeout in ms (a read that takes longer fails UNAVAILABLE); default 1000. */
  command_timeout_ms: z.number().int().positive().default(1000),
  /**
   * Reads over pitstop's own connections, MGETs parsed in place
   * (src/online/redis/read-connection.ts; on a cluster one per master); false reads through
   * ioredis and the read script instead (slower: an escape hatch). Default true.
   */
  direct_reads: z.boolean().default(true),
  /**
   * Megabytes of rows each serving process keeps in memory, kept right by Redis' invalidation
   * messages (client-side caching with tracking; src/online/redis/tracked-reads.ts). A hit
   * skips the Redis round trip. 0 (the default): no near cache. Needs Redis 6+ and
   * `direct_reads: true`; on a cluster (`cluster_nodes`) each master is tracked on its own and
   * the slot map is refreshed every second. See docs/online.md ("Near cache").
   */
  near_cache_mb: z
    .number()
    .refine((mb) => mb === 0 || (mb >= 1 && mb <= 32_000), 'must be 0 (no near cache) or from 1 to 32000 (megabytes)')
    .default(0),
});

export const EmbeddedOnlineStoreSchema = z.strictObject({
  type: z.literal('embedded'),
  /** Directory of the embedded store, relative to the repository; default `.pitstop/online`. */
  path: z.string().default('.pitstop/online'),
});

export const OnlineStoreSchema = z.discriminatedUnion('type', [EmbeddedOnlineStoreSchema, RedisOnlineStoreSchema]);

export const ConfigSchema = z.strictObject({
  /** Project name: namespaces registry and online keys. */
  project: Name,
  registry: z
    .strictObject({
      type: z.literal('file').default('file'),
      /** Directory of the registry, relative to the repository; default `.pitstop/registry`. */
      path: z.string().default('.pitstop/registry'),
    })
    .prefault({}),
  offline: z
    .strictObject({
      /** Where offline materializations are written; default `.pitstop/offline`. */
      data_dir: z.string().default('.pitstop/offline'),
      /** DuckDB memory limit, e.g. `4GB`; default: DuckDB's own (80% of RAM). */
      memory_limit: z.string().optional(),
      /** DuckDB worker threads; default: the number of cores. */
      threads: z.number().int().positive().optional(),
      /** DuckDB spill directory; default `.pitstop/tmp`. */
      temp_directory: z.string().default('.pitstop/tmp'),
    })
    .prefault({}),
  online_store: OnlineStoreSchema.default({ type: 'embedded', path: '.pitstop/online' }),
  serving: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      /** gRPC port; default 6566. 0 picks a free port. */
      grpc_port: z.number().int().min(0).max(65535).default(6566),
      /** HTTP port; default 6567. 0 picks a free port. */
      http_port: z.number().int().min(0).max(65535).default(6567),
      /** Most entity rows one request may ask for; default 1000. */
      max_entities: z.number().int().positive().default(1000),
      /** Most features one request may ask for; default 1000. */
      max_features: z.number().int().positive().default(1000),
      /** Largest request message in bytes; default 4 MiB. */
      max_message_bytes: z.number().int().positive().default(4 * 1024 * 1024),
      /**
       * The gRPC server's HTTP/2 layer: `pitstop` (default), pitstop's own, or `node`
       * (node:http2). Same protocol and behaviour; pitstop's own keeps request headers out of
       * V8's old generation, which spares node:http2's ~50 ms mark-compacts under steady load
       * (docs/serving.md#the-grpc-server).
       */
      grpc_transport: z.enum(['pitstop', 'node']).default('pitstop'),
      /**
       * gRPC connections older than this, in ms (±10%), get a graceful GOAWAY: their calls
       * finish, and the client reconnects for the next ones. Behind a load balancer that balances
       * connections rather than calls, this is what spreads long-lived clients onto new
       * replicas. Default 0: never. (As grpc-go's MaxConnectionAge; on either HTTP/2 layer.)
       */
      grpc_max_connection_age_ms: z.number().int().min(0).default(0),
      /** After that GOAWAY, how long its calls may still run before the connection is cut, in ms; default 30000. */
      grpc_max_connection_age_grace_ms: z.number().int().min(0).default(30_000),
      /** gRPC connections with no call for this long, in ms, get a graceful GOAWAY; default 0: never. */
      grpc_max_connection_idle_ms: z.number().int().min(0).default(0),
      /**
       * A gRPC connection from which nothing has come for this long, in ms, is sent a PING, and
       * closed unless the client answers within `grpc_keepalive_timeout_ms`: finds peers gone
       * without a word (and keeps NAT and load-balancer idle timers from dropping quiet
       * connections). Default 7200000 (2 h, as gRPC's servers); 0: never.
       */
      grpc_keepalive_time_ms: z.number().int().min(0).default(7_200_000),
      /** How long a keepalive PING may go unanswered, in ms; default 20000. */
      grpc_keepalive_timeout_ms: z.number().int().positive().default(20_000),
      /**
       * Before a fresh serving process reports ready (/readyz, gRPC health), it sends itself
       * lookups for this long, in ms, through its own gRPC port (app/warmup.ts): the JIT and the
       * first garbage collections under load then happen before traffic comes, not in it.
       * Default 1000; 0: none.
       */
      warmup_ms: z.number().int().min(0).default(1000),
      /** How often the server looks for a newly applied registry version, in ms; default 2000. */
      registry_poll_ms: z.number().int().positive().default(2000),
      /**
       * V8's memory reducer in `pitstop serve`; default false (its workers run with node's
       * `--no-memory-reducer`). After a few idle seconds it shrinks the heap and then grows it
       * slowly, so the traffic that follows pays a mark-compact every few hundred ms
       * (docs/serving.md#runtime-settings). True leaves V8's default.
       */
      gc_memory_reducer: z.boolean().default(false),
      /**
       * V8's initial old-generation size for `pitstop serve`'s serving processes, in MB (node's
       * `--initial-old-space-size`); default 64, 0 leaves V8's default. A server left idle after
       * start-up and then loaded could otherwise settle into a mark-compact every ~0.35 s with
       * its old-generation limit under its live heap (~1.4x the CPU per request at 100 x 50;
       * docs/serving.md#runtime-settings).
       */
      gc_initial_old_space_mb: z.number().int().min(0).max(65536).default(64),
      /**
       * V8's allocation-site pretenuring in `pitstop serve`'s serving processes; default false
       * (node's `--no-allocation-site-pretenuring`). In some starts V8 began allocating a
       * per-request object in the old generation; its young referents then survived every
       * scavenge and were promoted, and scavenges took ~16 ms instead of ~1 ms
       * (docs/serving.md#runtime-settings). True leaves V8's default.
       */
      gc_pretenuring: z.boolean().default(false),
    })
    .prefault({}),
});

export type ConfigInput = z.input<typeof ConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;
export type OnlineStoreConfig = z.output<typeof OnlineStoreSchema>;
