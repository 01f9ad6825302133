/**
 * The first seconds of traffic to a fresh `pitstop serve`, with and without its start-up warm-up
 * (`serving.warmup_ms`, src/app/warmup.ts), against a real redis-server (the harness's):
 *
 *   node --import tsx bench/serving/cold-start.ts [--rounds N] [--warmup-ms MS]
 *
 * Each round starts a fresh `pitstop serve --workers 1` (the serving benchmark's server node
 * options) per variant, waits until /readyz answers 200 (polled every 5 ms), and then sends it
 * 1 x 50 at 1,000/s, open loop, for 3 s, with the serving benchmark's load generator: what a
 * replica put behind a load balancer as soon as it is ready gets. The generator is itself a fresh
 * process, so it first warms up for 2 s on a server that is warm already (`warmupTarget`), and the
 * fresh server's first request is its first measured one.
 * Printed per round and variant: p50, p99, max, and the server's GC pauses of 10 ms or more
 * (its /metrics) from ready to the end of the load; then the medians over the rounds. The
 * variants alternate, so drift in the machine falls on both.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileRegistryStore } from '../../src/registry/file-store.ts';
import { RedisOnlineStore } from '../../src/online/redis/redis-store.ts';
import { PitstopClient } from '../../src/client/client.ts';
import { servingMethods } from '../../src/serving/proto.ts';
import { freePort, startRedis } from '../../test/support/redis-server.ts';
import { ENTITIES, PROJECT, benchRows, benchSnapshot } from './fixture.ts';
import { loadgenResult, type LoadgenConfig, type LoadgenResult } from './loadgen.ts';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
};
const ROUNDS = arg('--rounds', 3);
const WARMUP_MS = arg('--warmup-ms', 1000);
const SERVER_FLAGS = ['--single-threaded-gc', '--no-memory-reducer', '--initial-old-space-size=64', '--no-allocation-site-pretenuring'];
const LOADGEN_FLAGS = ['--expose-gc', '--min-semi-space-size=128', '--max-semi-space-size=128', '--initial-old-space-size=512'];
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** GC pauses so far, and how many of them were 10 ms or more (prom-client's histogram). */
async function gcPauses(httpPort: number): Promise<{ all: number; over10ms: number }> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let all = 0;
  let under = 0;
  for (const m of text.matchAll(/^nodejs_gc_duration_seconds_(count|bucket)\{([^}]*)\} (\d+)/gm)) {
    if (m[1] === 'count') all += Number(m[3]);
    else if (/le="0\.01"/.test(m[2])) under += Number(m[3]);
  }
  return { all, over10ms: all - under };
}

/** Waits until the server's /readyz answers 200 (polled every 5 ms); returns how long it took. */
async function waitReady(httpPort: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.status === 200, () => false);
    if (ok) return Math.round(performance.now() - t0);
    if (performance.now() - t0 > 60_000) throw new Error('the server did not become ready in 60 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** One run of the serving benchmark's load generator (a process of its own). */
async function loadgen(cfg: LoadgenConfig, name: string): Promise<LoadgenResult> {
  const file = path.join(tmp, `loadgen-${name}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  return loadgenResult(run([...LOADGEN_FLAGS, '--import', 'tsx', 'bench/serving/loadgen.ts', file]));
}

const config = (grpcPort: number, httpPort: number, warmupMs: number) =>
  `project: ${PROJECT}\nonline_store:\n  type: redis\n  url: ${redis.url}\nserving:\n  host: 127.0.0.1\n  grpc_port: ${grpcPort}\n  http_port: ${httpPort}\n  registry_poll_ms: 60000\n  warmup_ms: ${warmupMs}\n`;

function run(argv: string[], cwd = ROOT): ChildProcess {
  const child = spawn(process.execPath, argv, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

const redis = await startRedis();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'pitstop-cold-'));
let reference: ChildProcess | undefined;
try {
  const registry = await FileRegistryStore.create(path.join(tmp, '.pitstop/registry'));
  await registry.commit(benchSnapshot());
  await registry.close();
  const store = await RedisOnlineStore.create({ url: redis.url, project: PROJECT });
  for (const batch of benchRows(Date.now())) await store.writeRows(batch);
  await store.close();
  const m = servingMethods().GetOnlineFeatures;
  let x = 7;
  const requests = Array.from({ length: 64 }, () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return m.requestSerialize(PitstopClient.requestMessage({ featureService: 'fs_50', entities: { driver_id: [x % ENTITIES] } })).toString('base64');
  });

  // The warm server the generator warms up on: the same repository, started once and loaded first.
  const [refGrpc, refHttp] = [await freePort(), await freePort()];
  const refDir = path.join(tmp, 'reference');
  mkdirSync(refDir);
  cpSync(path.join(tmp, '.pitstop'), path.join(refDir, '.pitstop'), { recursive: true });
  writeFileSync(path.join(refDir, 'pitstop.yaml'), config(refGrpc, refHttp, 1000));
  reference = run([...SERVER_FLAGS, 'bin/pitstop.mjs', 'serve', '--repo', refDir, '--workers', '1']);
  await waitReady(refHttp);
  await loadgen({ target: `127.0.0.1:${refGrpc}`, method: m.path, requests, rate: 1000, durationS: 3, warmupS: 1, timeoutMs: 2000, maxInFlight: 2000 }, 'reference');

  const results: Record<string, { p50: number; p99: number; max: number; over10ms: number }[]> = { 'no warm-up': [], [`warm-up ${WARMUP_MS} ms`]: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const variants = round % 2 === 0 ? [0, WARMUP_MS] : [WARMUP_MS, 0];
    for (const warmupMs of variants) {
      const [grpcPort, httpPort] = [await freePort(), await freePort()];
      writeFileSync(path.join(tmp, 'pitstop.yaml'), config(grpcPort, httpPort, warmupMs));
      const server = run([...SERVER_FLAGS, 'bin/pitstop.mjs', 'serve', '--repo', tmp, '--workers', '1']);
      try {
        const readyMs = await waitReady(httpPort);
        const before = await gcPauses(httpPort);
        const r = await loadgen({ target: `127.0.0.1:${grpcPort}`, warmupTarget: `127.0.0.1:${refGrpc}`, method: m.path, requests, rate: 1000, durationS: 3, warmupS: 2, timeoutMs: 2000, maxInFlight: 2000 }, `${round}-${warmupMs}`);
        const after = await gcPauses(httpPort);
        const label = warmupMs === 0 ? 'no warm-up' : `warm-up ${WARMUP_MS} ms`;
        const row = { p50: r.latencyMs.p50, p99: r.latencyMs.p99, max: r.latencyMs.max, over10ms: after.over10ms - before.over10ms };
        results[label].push(row);
        console.log(`round ${round + 1} ${label.padEnd(16)} ready after ${readyMs} ms; first 3 s at 1,000/s: p50 ${row.p50} p99 ${row.p99} max ${row.max} ms, errors ${JSON.stringify(r.errors)}, send lag p99 ${r.sendLagMs.p99} ms; server GC pauses ${after.all - before.all} (${row.over10ms} of 10 ms or more)`);
      } finally {
        server.kill('SIGTERM');
        await new Promise((r) => server.once('exit', r));
      }
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const [label, rows] of Object.entries(results)) {
    console.log(`${label.padEnd(16)} median of ${rows.length}: p50 ${median(rows.map((r) => r.p50))} p99 ${median(rows.map((r) => r.p99))} max ${median(rows.map((r) => r.max))} ms; GC pauses of 10 ms or more ${rows.map((r) => r.over10ms).join(' / ')}`);
  }
} finally {
  reference?.kill('SIGTERM');
  if (reference) await new Promise((r) => reference!.once('exit', r));
  rmSync(tmp, { recursive: true, force: true });
  await redis.stop();
}
