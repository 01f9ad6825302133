/**
 * Open-loop gRPC load generator, run in a process of its own (`tsx bench/serving/loadgen.ts
 * config.json`, result as JSON on stdout).
 *
 * Requests go out on a fixed schedule (t0 + k / rate) whatever the responses do, and latency is
 * measured from the SCHEDULED send time, so queueing in the server (or in this process) shows
 * up instead of being hidden (no coordinated omission). Pacing: a coarse timer until ~1 ms before
 * the next send, then a setImmediate spin (which still lets responses be processed) up to the
 * send time. The generator records its own send lag (actual - scheduled send time) and reports it
 * beside the latencies: if the lag's tail is large, the figures measure the generator.
 */
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
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
}

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
      const wait = t0 + k * interval - performance.now();
      if (wait > 1.5) setTimeout(tick, wait - 1);
      else setImmediate(tick);
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
  };
}

if (process.argv[2]) {
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
