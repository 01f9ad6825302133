/**
 * A fresh serving process warms up before it reports ready (`serving.warmup_ms`): it sends
 * itself GetOnlineFeatures calls over its own gRPC port, through every layer a client's call
 * takes (HTTP/2, request decoding, the online store, the answer's encoding), for each feature
 * service of the registry version it serves, with made-up entity keys (most of them read as
 * NOT_FOUND, which costs what a found row costs to look up).
 *
 * Why: a process's first load pays for what has not happened yet. V8 compiles the hot path
 * from the first calls on, and the first young-generation collections under load copy
 * everything start-up left behind: traced on the bench VM (2026-12-07), a fresh `pitstop serve`
 * at 1,000/s had scavenges of 17 and 30 ms in its first second, then 1-2 ms ones. A load
 * balancer that waits for /readyz (or gRPC health) now sends traffic after those, not into them.
 * With `serve --workers N` the workers share the port, so each worker's warm-up calls go to
 * whichever worker the primary hands the connection to; all warm up at once, so each gets
 * about its share.
 * `bench/serving/cold-start.ts` measures the first 3 s of traffic at 1,000/s after /readyz says
 * ready (AMD EPYC VM, 2026-12-07, two runs of four alternating rounds): without the warm-up p99
 * 10.9-38.2 ms (medians 28.0 and 20.3), max 23.5-55.0 ms, and 1-2 server GC pauses of 10 ms or
 * more in each of the 8 rounds; with 1 s of it p99 7.0-11.8 ms (medians 10.3 and 10.1), max
 * 13.3-25.7 ms, and none (one, in one round of a shorter check run). It costs that second at
 * start.
 *
 * The warm-up's own calls are counted in the request metrics like any others.
 */
import { PitstopClient } from '../client/client.ts';
import type { JoinKey, RegistrySnapshot } from '../core/registry-model.ts';

/** Feature services warmed up at most (the first ones by name), and entities per batch call (within `serving.max_entities`). */
const MAX_SERVICES = 16;
const BATCH = 100;

export interface WarmUpResult {
  calls: number;
  failed: number;
  ms: number;
}

/** The address to reach a server bound to `host` from inside its own process. */
export function loopbackAddress(host: string, port: number): string {
  const h = host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '[::1]' : host.includes(':') ? `[${host}]` : host;
  return `${h}:${port}`;
}

/** The join keys a feature service's lookups need: those of its features' view versions, each once. */
export function serviceJoinKeys(snapshot: RegistrySnapshot, service: string): JoinKey[] {
  const keys = new Map<string, JoinKey>();
  for (const ref of snapshot.featureServices[service]?.features ?? []) {
    const version = snapshot.featureViews[ref.view]?.versions[ref.version - 1];
    for (const k of version?.joinKeys ?? []) if (!keys.has(k.name)) keys.set(k.name, k);
  }
  return [...keys.values()];
}

/** `n` made-up values of a join key's type, from `seed` on. */
function keyValues(key: JoinKey, n: number, seed: number): unknown[] {
  return Array.from({ length: n }, (_, i) => {
    const id = seed + i;
    if (key.type === 'int32' || key.type === 'int64') return id;
    if (key.type === 'bytes') return Buffer.from(`pitstop-warmup-${id}`);
    return `pitstop-warmup-${id}`;
  });
}

/**
 * Sends the server at `address` lookups for `ms` milliseconds, one at a time, round the feature
 * services of `snapshot` (one entity, then BATCH or `maxEntities` if fewer, by turns). A failed
 * call is counted and the warm-up goes on; a server whose store is down finishes it as soon as
 * `ms` is up.
 */
export async function warmUp(address: string, snapshot: RegistrySnapshot, ms: number, maxEntities = BATCH): Promise<WarmUpResult> {
  const batch = Math.max(1, Math.min(BATCH, maxEntities));
  const started = performance.now();
  const services = Object.keys(snapshot.featureServices)
    .sort()
    .slice(0, MAX_SERVICES)
    .map((name) => ({ name, keys: serviceJoinKeys(snapshot, name) }))
    .filter((s) => s.keys.length > 0);
  let calls = 0;
  let failed = 0;
  if (services.length === 0) return { calls, failed, ms: 0 };
  const client = new PitstopClient(address);
  try {
    while (performance.now() - started < ms) {
      const s = services[calls % services.length];
      const n = (calls >> 1) % 2 === 0 ? 1 : batch;
      const entities = Object.fromEntries(s.keys.map((k) => [k.name, keyValues(k, n, calls * batch)]));
      const timeoutMs = Math.max(50, Math.min(1000, ms - (performance.now() - started)));
      try {
        await client.getOnlineFeaturesRaw({ featureService: s.name, entities }, { timeoutMs });
      } catch {
        failed++;
      }
      calls++;
    }
  } finally {
    client.close();
  }
  return { calls, failed, ms: Math.round(performance.now() - started) };
}
