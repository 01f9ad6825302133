/**
 * Open-loop gRPC load generator, run in a process of its own (`tsx bench/serving/loadgen.ts
 * config.json`, result as JSON on stdout).
 *
 * Requests go out on a fixed schedule (t0 + k / rate) whatever the responses do, and latency is
 * measured from the SCHEDULED send time, so queueing in the server (or in this process) shows
 * up instead of being hidden (no coordinated omission). Pacing: a coarse timer until ~1 ms before
 * the next send, then precise futex sleeps (Atomics.wait) in 0.1 ms slices with an event-loop turn
 * between slices (responses are still timed within ~0.1 ms), then a spin for the last 0.15 ms.
 * A plain spin would cost a whole core, which on a 2-core box is the server's. The generator records its own send lag (actual - scheduled send time) and reports it
 * beside the latencies: if the lag's tail is large, the figures measure the generator.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as hdr from 'hdr-histogram-js';

export interface LoadgenConfig {
  target: string;
  /** Full method path, e.g. /pitstop.serving.v1.ServingService/GetOnlineFeatures. */
  method: string;
  /** Pre-serialized request messages (base64), sent round-robin. */
  requests: string[];
  rate: number;
  durationS: number;
  warmupS: number;
  /** Per-request deadline in ms. */
  timeoutMs: number;
  /** Give up scheduling (count as dropped) when this many are in flight. */
  maxInFlight: number;
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
  responseBytes: number;
  /** Seconds from the first measured scheduled send to the last measured response. */
  measuredS: number;
  /** HDR histograms (compressed base64) of latency and send lag in µs, so runs can be merged. */
  latencyHist: string;
  sendLagHist: string;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

function histogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

async function run(cfg: LoadgenConfig): Promise<LoadgenResult> {
  const client = new grpc.Client(cfg.target, grpc.credentials.createInsecure(), { 'grpc.max_receive_message_length': -1 });
  await new Promise<void>((resolve, reject) => client.waitForReady(Date.now() + 10_000, (e) => (e ? reject(e) : resolve())));
  const requests = cfg.requests.map((b) => Buffer.from(b, 'base64'));
  const identity = (b: Buffer) => b;
  const latency = histogram(); // microseconds
  const lag = histogram();
  const errors: Record<string, number> = {};
  let ok = 0;
  let sent = 0;
  let dropped = 0;
  let inFlight = 0;
  let responseBytes = 0;
  let lastDone = 0;

  const interval = 1000 / cfg.rate;
  const warmup = Math.round(cfg.warmupS * cfg.rate);
  const total = warmup + Math.round(cfg.durationS * cfg.rate);
  const t0 = performance.now() + 20;
  let measuredStart = 0;
  let k = 0;

  await new Promise<void>((resolve) => {
    const maybeDone = () => {
      if (k >= total && inFlight === 0) resolve();
    };
    const send = (i: number, scheduled: number) => {
      const now = performance.now();
      const record = i >= warmup;
      if (i === warmup) measuredStart = scheduled;
      if (inFlight >= cfg.maxInFlight) {
        if (record) dropped++;
        return;
      }
      if (record) {
        sent++;
        lag.recordValue(Math.max(1, Math.round((now - scheduled) * 1000)));
      }
      inFlight++;
      client.makeUnaryRequest(cfg.method, identity, identity, requests[i % requests.length], new grpc.Metadata(), { deadline: Date.now() + cfg.timeoutMs }, (err, res) => {
        const done = performance.now();
        inFlight--;
        if (record) {
          lastDone = done;
          if (err) errors[grpc.status[err.code] ?? String(err.code)] = (errors[grpc.status[err.code]] ?? 0) + 1;
          else {
            ok++;
            responseBytes = res!.length;
            latency.recordValue(Math.max(1, Math.round((done - scheduled) * 1000)));
          }
        }
        maybeDone();
      });
    };
    const tick = () => {
      const now = performance.now();
      while (k < total && t0 + k * interval <= now) {
        send(k, t0 + k * interval);
        k++;
      }
      if (k >= total) return maybeDone();
      const next = t0 + k * interval;
      let wait = next - performance.now();
      if (wait > 1.5) {
        setTimeout(tick, wait - 1);
        return;
      }
      if (wait > 0.15) {
        // Sleep precisely (futex) in slices of <= 0.1 ms without burning the core the server
        // needs, returning to the event loop between slices so responses are timed promptly.
        Atomics.wait(sleeper, 0, 0, Math.min(wait - 0.05, 0.1));
        setImmediate(tick);
        return;
      }
      while (wait > 0) wait = next - performance.now(); // the last < 0.15 ms: spin
      setImmediate(tick);
    };
    tick();
  });
  client.close();
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
    responseBytes,
    measuredS: Math.max(measured, cfg.durationS),
    latencyHist: hdr.encodeIntoCompressedBase64(latency),
    sendLagHist: hdr.encodeIntoCompressedBase64(lag),
  };
}

/** Merge results of several runs at the same rate (interleaved segments) into one. */
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
