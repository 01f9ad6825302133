/**
 * Open-loop load generator for gRPC (and, with `transport: 'http'`, HTTP/1.1), run in a process
 * of its own (`tsx bench/serving/loadgen.ts config.json`, result as JSON on stdout).
 *
 * Requests go out on a fixed schedule (t0 + k / rate) whatever the responses do, and latency is
 * measured from the SCHEDULED send time, so queueing in the server (or in this process) shows
 * up instead of being hidden (no coordinated omission).
 *
 * Kept as light as possible, since on a 2-core box its own CPU time and pauses land in the
 * figures of whatever it measures:
 * - HTTP/JSON goes over keep-alive HTTP/1.1 connections of its own (http1-pool.ts: pre-framed
 *   requests, answers read only as far as status and Content-Length), opened as needed.
 * - gRPC is spoken directly over one node:http2 session (pre-framed request bodies, one constant
 *   header object, the response bytes counted but not kept or decoded, the status read from the
 *   trailers), instead of grpc-js's client stack (call objects, filters, metadata and a deadline
 *   timer per call).
 * - The bench starts it with a young generation big enough for a whole run, a large initial old
 *   space and --expose-gc; it collects its start-up garbage before sending, its young generation
 *   once more late in the warm-up, and, by default, never in the measured window (see
 *   WARMUP_GC_AT and GC_EVERY_REQUESTS below); it counts any GC pause that lands there.
 * At 1,000/s (1 x 50) the previous generator (grpc-js client, pacing by 0.1 ms futex slices and
 * event-loop turns) used 520-570 µs of CPU per request; this one uses 290-330 µs, and with the
 * bench's heap flags it has no GC pause in the run (default flags: 15-16 scavenges in 4.5 s,
 * up to 7-11 ms each). See docs/benchmarks.md.
 * - Pacing is a worker thread (PACER below) sleeping on a futex until each send time and waking
 *   the main thread, which otherwise idles in epoll; no spinning, no polling slices.
 * It records its own send lag (actual - scheduled send time), its CPU time and its GC pauses, and
 * reports them beside the latencies: if they are large, the figures measure the generator.
 */
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ChildProcess } from 'node:child_process';
import * as hdr from 'hdr-histogram-js';
import { Http1Pool, framePost, type Outcome } from './http1-pool.ts';

export interface LoadgenConfig {
  target: string;
  /** 'grpc' (default): gRPC over one HTTP/2 session. 'http': POSTs of JSON over HTTP/1.1. */
  transport?: 'grpc' | 'http';
  /** gRPC: the full method path, e.g. /pitstop.serving.v1.ServingService/GetOnlineFeatures; HTTP: the URL path. */
  method: string;
  /** Pre-serialized request messages, or HTTP bodies (base64), sent round-robin. */
  requests: string[];
  rate: number;
  durationS: number;
  warmupS: number;
  /** Per-request deadline in ms. */
  timeoutMs: number;
  /** Give up scheduling (count as dropped) when this many are in flight. */
  maxInFlight: number;
  /**
   * Where the warm-up's requests go, when not to `target` (cold-start.ts: the generator warms
   * up on a server that is already warm, so that the fresh target's first request is a measured one).
   */
  warmupTarget?: string;
}

export interface LoadgenResult {
  rate: number;
  sent: number;
  ok: number;
  errors: Record<string, number>;
  dropped: number;
  achievedRate: number;
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
  sendLagMs: { p50: number; p99: number; p999: number; max: number };
  /** The generator's own cost over the whole run: CPU µs per request, GC pauses. */
  generator: { cpuUsPerRequest: number; gcPauses: number; gcPauseMsTotal: number; gcPauseMsMax: number; gcKinds?: Record<string, number>; gcPausesInWindow?: number; gcPauseMsMaxInWindow?: number };
  responseBytes: number;
  /** Seconds from the first measured scheduled send to the last measured response. */
  measuredS: number;
  /** HDR histograms (compressed base64) of latency and send lag in µs, so runs can be merged. */
  latencyHist: string;
  sendLagHist: string;
}

/**
 * The pacing thread (plain JavaScript, run with `eval`). It sleeps until each scheduled send time
 * with futex waits (Atomics.wait; no spinning: the 2-core box's other core belongs to the server)
 * and wakes the main thread with a message; the main thread sends everything that is due.
 * Shared Int32Array: [0] futex word (never changes), [1] 1 while a wake-up is posted and not yet
 * taken by the main thread (so at most one message is in flight), [2] 1 = stop.
 */
const PACER = `
const { parentPort, workerData } = require('node:worker_threads');
const { flags: sab, startEpochMs, intervalMs, total } = workerData;
const flags = new Int32Array(sab);
const now = () => performance.timeOrigin + performance.now();
for (let k = 0; k < total && Atomics.load(flags, 2) === 0; k++) {
  const due = startEpochMs + k * intervalMs;
  for (let wait = due - now(); wait > 0.02; wait = due - now()) Atomics.wait(flags, 0, 0, wait);
  if (Atomics.compareExchange(flags, 1, 0, 1) === 0) parentPort.postMessage(0);
}
parentPort.postMessage(1);
`;

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/** A gRPC message frame: 1 byte not-compressed, 4 bytes big-endian length, the message. */
function frame(message: Buffer): Buffer {
  const out = Buffer.allocUnsafe(5 + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  message.copy(out, 5);
  return out;
}

/**
 * Where in the warm-up (fraction of its requests) the generator collects its young generation
 * once: the response bytes received so far (ArrayBuffers outside the JS heap) go, so the
 * measured window starts with none. With the bench's 512 MB initial old space V8 collects when
 * they reach ~35 MB (seen 2026-12-07: a 9-13 ms scavenge ~3 s into a 100 x 50 segment with
 * 52 KB answers, none with 27-33 KB ones; from V8's default old space, a 7-13 ms mark-compact
 * at ~22 MB); without this, targets with larger answers paid the generator's pause.
 * Late enough that the warm-up's garbage is in, early enough that its pause delays only warm-up
 * requests.
 */
const WARMUP_GC_AT = 0.8;

/**
 * Completed requests after which the generator runs a minor GC between two sends; 0 (default):
 * never. Until 2026-12-06 16:30 it was 100: on the morning's quiet VM such a GC cost ~1.5-2 ms,
 * on the afternoon's slower one ~4.3 ms, and at 1,000/s each one delays the next few sends, so
 * the generator itself set the tail. A/B against the echo server, alternating, 4 runs each
 * (1 x 50, 1,000/s, 5 s): forced every 100, echo p99 7.1 / 7.5 / 8.2 / 10.9 ms and send lag p99
 * 3.7-5.0 ms; never, 4.8 / 5.2 / 5.7 / 8.0 ms and 2.2-2.6 ms. A run's requests (6,000 at
 * 1,000/s, ~14 KB each) fit in the 128 MB young generation the bench gives it, so no scavenge
 * happens in a scenario segment at all (the sweep's longer, faster steps do get V8's own; large
 * answers, see WARMUP_GC_AT).
 */
const GC_EVERY_REQUESTS = Number(process.env.LOADGEN_GC_EVERY_REQUESTS ?? 0);

/** Sends one request; `done` gets 'ok' or a short error reason, and the answer's payload bytes. */
type Send = (i: number, done: (outcome: Outcome, bytes: number) => void) => void;
interface Transport {
  send: Send;
  close(): void;
}

/** gRPC over one node:http2 session, pre-framed bodies, the status read from the trailers. */
async function grpcTransport(cfg: LoadgenConfig): Promise<Transport> {
  const session = http2.connect(`http://${cfg.target}`, { settings: { initialWindowSize: 16 << 20 } });
  session.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve());
    session.once('error', reject);
  });
  session.setLocalWindowSize(64 << 20);
  const bodies = cfg.requests.map((b) => frame(Buffer.from(b, 'base64')));
  const headers = {
    ':method': 'POST',
    ':path': cfg.method,
    'content-type': 'application/grpc',
    te: 'trailers',
    'grpc-timeout': `${cfg.timeoutMs}m`,
  };
  return {
    send(i, done) {
      const stream = session.request(headers, { endStream: false });
      let status: string | undefined;
      let bytes = 0;
      stream.on('response', (h) => {
        // A trailers-only answer (an error) carries grpc-status in the headers.
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
      });
      stream.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      stream.on('trailers', (t) => (status = String(t['grpc-status'])));
      stream.on('error', () => {});
      stream.on('close', () => done(status === '0' ? 'ok' : status === undefined ? `RST_${stream.rstCode}` : `grpc-status ${status}`, bytes - 5));
      stream.end(bodies[i % bodies.length]);
    },
    close: () => session.close(),
  };
}

/** HTTP/1.1 keep-alive connections (http1-pool.ts); a few opened before the clock starts. */
async function httpTransport(cfg: LoadgenConfig): Promise<Transport> {
  const pool = new Http1Pool(cfg.target, cfg.timeoutMs);
  await pool.open(4);
  const requests = cfg.requests.map((b) => framePost(cfg.target, cfg.method, Buffer.from(b, 'base64')));
  return { send: (i, done) => pool.send(requests[i % requests.length], done), close: () => pool.close() };
}

async function run(cfg: LoadgenConfig): Promise<LoadgenResult> {
  const open = (c: LoadgenConfig) => (c.transport === 'http' ? httpTransport(c) : grpcTransport(c));
  const transport = await open(cfg);
  const warmTransport = cfg.warmupTarget ? await open({ ...cfg, target: cfg.warmupTarget }) : transport;
  const latency = histogram(); // microseconds
  const lag = histogram();
  const errors: Record<string, number> = {};
  const fail = (what: string) => (errors[what] = (errors[what] ?? 0) + 1);
  let ok = 0;
  let sent = 0;
  let dropped = 0;
  let inFlight = 0;
  let responseBytes = 0;
  let lastDone = 0;
  let doneSinceGc = 0;

  // Collect garbage left from start-up now, not during the measured window (the bench starts
  // this process with --expose-gc and a young generation big enough for a whole run).
  const forceGc = (globalThis as { gc?: (o?: unknown) => void }).gc;
  if (forceGc) {
    forceGc();
    forceGc({ type: 'minor' });
  }
  // All of the run's GC pauses, and those in the measured window (from the first measured send).
  const gc = { n: 0, total: 0, max: 0, kinds: {} as Record<string, number>, inWindow: 0, inWindowMax: 0 };
  const KIND: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gc.n++;
      gc.total += e.duration;
      const kind = KIND[(e as { detail?: { kind?: number } }).detail?.kind ?? 0] ?? 'other';
      gc.kinds[kind] = (gc.kinds[kind] ?? 0) + 1;
      if (e.duration > gc.max) gc.max = e.duration;
      if (e.startTime + e.duration >= t0 + warmup * interval) {
        gc.inWindow++;
        gc.inWindowMax = Math.max(gc.inWindowMax, e.duration);
      }
      if (process.env.LOADGEN_TRACE_GC) process.stderr.write(`gc ${kind} at ${(e.startTime - t0).toFixed(1)} ms for ${e.duration.toFixed(2)} ms (external ${(process.memoryUsage().external / 1048576).toFixed(1)} MB, array buffers ${(process.memoryUsage().arrayBuffers / 1048576).toFixed(1)} MB)\n`);
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();

  const interval = 1000 / cfg.rate;
  const warmup = Math.round(cfg.warmupS * cfg.rate);
  const total = warmup + Math.round(cfg.durationS * cfg.rate);
  const warmupGcAt = Math.floor(warmup * WARMUP_GC_AT);
  let warmupCollected = warmup === 0;
  const t0 = performance.now() + 50;
  let measuredStart = 0;
  let k = 0;
  const flags = new Int32Array(new SharedArrayBuffer(12));
  const pacer = new Worker(PACER, {
    eval: true,
    execArgv: [],
    workerData: { flags: flags.buffer, startEpochMs: performance.timeOrigin + t0, intervalMs: interval, total },
  });

  await new Promise<void>((resolve, reject) => {
    let pacerDone = false;
    const maybeDone = () => {
      if (k >= total && inFlight === 0) resolve();
    };
    const send = (i: number, scheduled: number) => {
      const record = i >= warmup;
      if (i === warmup) measuredStart = scheduled;
      if (inFlight >= cfg.maxInFlight) {
        if (record) dropped++;
        return;
      }
      if (record) {
        sent++;
        lag.recordValue(Math.max(1, Math.round((performance.now() - scheduled) * 1000)));
      }
      inFlight++;
      (record ? transport : warmTransport).send(i, (outcome, bytes) => {
        const done = performance.now();
        inFlight--;
        doneSinceGc++;
        if (record) {
          lastDone = done;
          if (outcome === 'ok') {
            ok++;
            responseBytes = bytes;
            latency.recordValue(Math.max(1, Math.round((done - scheduled) * 1000)));
          } else fail(outcome);
        }
        maybeDone();
      });
    };
    pacer.on('message', (m: number) => {
      Atomics.store(flags, 1, 0);
      if (m === 1) pacerDone = true;
      const now = performance.now();
      while (k < total && t0 + k * interval <= now) {
        send(k, t0 + k * interval);
        k++;
      }
      // Every request leaves node:http2 stream objects with C++ wrappers (weak handles) and
      // response bytes in ArrayBuffers outside the JS heap. Left to V8 they can pile up until a
      // major GC (incremental marking, then weak callbacks: 7-10 ms pauses). With
      // LOADGEN_GC_EVERY_REQUESTS set, a minor GC every that many completed requests frees them
      // while they are young, right after a send, in the gap before the next; it costs ~1.5-4 ms
      // whatever the count, more than it saves here (see GC_EVERY_REQUESTS). Counting requests, not bytes,
      // gives every server of a scenario the same GC schedule: counted by response bytes (8 MB
      // before), pitstop and the echo server, answering 5-7 KB at 1 x 250, got two 10-25 ms
      // generator pauses per segment and the floor (29 B-1.7 KB) none, which put ~1.5 ms on
      // pitstop's p99 against the floor's.
      if (forceGc && GC_EVERY_REQUESTS > 0 && doneSinceGc >= GC_EVERY_REQUESTS && !pacerDone) {
        doneSinceGc = 0;
        forceGc({ type: 'minor' });
      }
      // The warm-up's garbage, collected before the measured window opens (see WARMUP_GC_AT).
      if (forceGc && !warmupCollected && k >= warmupGcAt) {
        warmupCollected = true;
        forceGc({ type: 'minor' });
      }
      // The pacer wakes us at or after each due time; after its last message nothing is left.
      if (pacerDone) {
        while (k < total) {
          send(k, t0 + k * interval);
          k++;
        }
      }
      maybeDone();
    });
    pacer.once('error', reject);
  });
  Atomics.store(flags, 2, 1);
  await pacer.terminate();
  const cpu = process.cpuUsage(cpu0);
  obs.disconnect();
  transport.close();
  if (warmTransport !== transport) warmTransport.close();
  const ms = (v: number) => Math.round(v) / 1000;
  const measured = (lastDone - measuredStart) / 1000;
  return {
    rate: cfg.rate,
    sent,
    ok,
    errors,
    dropped,
    achievedRate: Math.round(ok / Math.max(measured, cfg.durationS)),
    latencyMs: {
      p50: ms(latency.getValueAtPercentile(50)),
      p90: ms(latency.getValueAtPercentile(90)),
      p99: ms(latency.getValueAtPercentile(99)),
      p999: ms(latency.getValueAtPercentile(99.9)),
      max: ms(latency.maxValue),
      mean: ms(latency.mean),
    },
    sendLagMs: { p50: ms(lag.getValueAtPercentile(50)), p99: ms(lag.getValueAtPercentile(99)), p999: ms(lag.getValueAtPercentile(99.9)), max: ms(lag.maxValue) },
    generator: { cpuUsPerRequest: Math.round((cpu.user + cpu.system) / Math.max(1, total)), gcPauses: gc.n, gcPauseMsTotal: Math.round(gc.total * 10) / 10, gcPauseMsMax: Math.round(gc.max * 100) / 100, gcKinds: gc.kinds, gcPausesInWindow: gc.inWindow, gcPauseMsMaxInWindow: Math.round(gc.inWindowMax * 100) / 100 },
    responseBytes,
    measuredS: Math.max(measured, cfg.durationS),
    latencyHist: hdr.encodeIntoCompressedBase64(latency),
    sendLagHist: hdr.encodeIntoCompressedBase64(lag),
  };
}

/** Merge results of several runs at the same rate (interleaved segments) into one. */
/** The result a load generator process (`loadgen.ts config.json`, spawned by the caller) prints as its last line; rejects when it fails. */
export async function loadgenResult(child: ChildProcess): Promise<LoadgenResult> {
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  const code = await new Promise<number>((r) => child.once('exit', (c) => r(c ?? 1)));
  if (code !== 0) throw new Error(`loadgen exited ${code}`);
  return JSON.parse(out.trim().split('\n').pop()!) as LoadgenResult;
}

export function mergeResults(runs: LoadgenResult[]): LoadgenResult {
  if (runs.length === 1) return runs[0];
  const latency = histogram();
  const lag = histogram();
  for (const r of runs) {
    latency.add(hdr.decodeFromCompressedBase64(r.latencyHist));
    lag.add(hdr.decodeFromCompressedBase64(r.sendLagHist));
  }
  const ms = (v: number) => Math.round(v) / 1000;
  const errors: Record<string, number> = {};
  for (const r of runs) for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
  const sum = (f: (r: LoadgenResult) => number) => runs.reduce((a, r) => a + f(r), 0);
  return {
    rate: runs[0].rate,
    sent: sum((r) => r.sent),
    ok: sum((r) => r.ok),
    errors,
    dropped: sum((r) => r.dropped),
    achievedRate: Math.round(sum((r) => r.ok) / sum((r) => r.measuredS)),
    latencyMs: {
      p50: ms(latency.getValueAtPercentile(50)),
      p90: ms(latency.getValueAtPercentile(90)),
      p99: ms(latency.getValueAtPercentile(99)),
      p999: ms(latency.getValueAtPercentile(99.9)),
      max: ms(latency.maxValue),
      mean: ms(latency.mean),
    },
    sendLagMs: { p50: ms(lag.getValueAtPercentile(50)), p99: ms(lag.getValueAtPercentile(99)), p999: ms(lag.getValueAtPercentile(99.9)), max: ms(lag.maxValue) },
    generator: {
      cpuUsPerRequest: Math.round(sum((r) => r.generator.cpuUsPerRequest * r.sent) / Math.max(1, sum((r) => r.sent))),
      gcPauses: sum((r) => r.generator.gcPauses),
      gcPauseMsTotal: Math.round(sum((r) => r.generator.gcPauseMsTotal) * 10) / 10,
      gcPauseMsMax: Math.max(...runs.map((r) => r.generator.gcPauseMsMax)),
      gcPausesInWindow: sum((r) => r.generator.gcPausesInWindow ?? 0),
      gcPauseMsMaxInWindow: Math.max(...runs.map((r) => r.generator.gcPauseMsMaxInWindow ?? 0)),
      gcKinds: runs.reduce<Record<string, number>>((acc, r) => {
        for (const [k, n] of Object.entries(r.generator.gcKinds ?? {})) acc[k] = (acc[k] ?? 0) + n;
        return acc;
      }, {}),
    },
    responseBytes: runs[runs.length - 1].responseBytes,
    measuredS: sum((r) => r.measuredS),
    latencyHist: hdr.encodeIntoCompressedBase64(latency),
    sendLagHist: hdr.encodeIntoCompressedBase64(lag),
  };
}

if (process.argv[2] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const cfg = JSON.parse(readFileSync(process.argv[2], 'utf8')) as LoadgenConfig;
  run(cfg).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (e) => {
      process.stderr.write(`loadgen failed: ${(e as Error).stack}\n`);
      process.exit(1);
    },
  );
}
