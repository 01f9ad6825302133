/** pitstop.yaml switches of the online store and serving (`serving.gc_memory_reducer`, `serving.gc_pretenuring`, `online_store.direct_reads`, `online_store.near_cache_mb`, the gRPC connection limits): defaults, set values, a bad value named. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http2 from 'node:http2';
import { loadConfig } from '../../src/config/load.ts';
import { startServing } from '../../src/app/serving.ts';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'pitstop-config-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const load = async (yaml: string) => {
  await writeFile(path.join(dir, 'pitstop.yaml'), yaml);
  return loadConfig(dir, {});
};

// V8 switches of the serving processes, off by default (docs/serving.md#runtime-settings).
describe.each(['gc_memory_reducer', 'gc_pretenuring'] as const)('serving.%s', (name) => {
  it('is false unless set, and takes true', async () => {
    expect((await load('project: t\n')).serving[name]).toBe(false);
    expect((await load(`project: t\nserving:\n  ${name}: true\n`)).serving[name]).toBe(true);
  });

  it('a non-boolean is CONFIG_INVALID naming the field', async () => {
    const e = await load(`project: t\nserving:\n  ${name}: sometimes\n`).catch((x) => x);
    expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
    expect(e.describe()).toContain(`serving.${name}`);
  });
});

// Whole-number settings with a default, 0 allowed: V8's initial old space (0: V8's default) and the start-up warm-up (0: none).
describe.each([
  ['gc_initial_old_space_mb', 64, 256],
  ['warmup_ms', 1000, 5000],
] as const)('serving.%s', (name, byDefault, other) => {
  it(`is ${byDefault} unless set, and takes 0 and other values`, async () => {
    expect((await load('project: t\n')).serving[name]).toBe(byDefault);
    expect((await load(`project: t\nserving:\n  ${name}: 0\n`)).serving[name]).toBe(0);
    expect((await load(`project: t\nserving:\n  ${name}: ${other}\n`)).serving[name]).toBe(other);
  });

  it('a negative, fractional or non-numeric value is CONFIG_INVALID naming the field', async () => {
    for (const bad of ['-1', '1.5', 'big']) {
      const e = await load(`project: t\nserving:\n  ${name}: ${bad}\n`).catch((x) => x);
      expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
      expect(e.describe()).toContain(`serving.${name}`);
    }
  });
});

describe('online_store.direct_reads', () => {
  it('is true unless set, and takes false', async () => {
    const redis = (yaml: string) => load(`project: t\nonline_store:\n  type: redis\n${yaml}`).then((c) => c.online_store as { direct_reads: boolean });
    expect((await redis('')).direct_reads).toBe(true);
    expect((await redis('  direct_reads: false\n')).direct_reads).toBe(false);
  });

  it('a non-boolean is CONFIG_INVALID naming the field', async () => {
    const e = await load('project: t\nonline_store:\n  type: redis\n  direct_reads: "yes"\n').catch((x) => x);
    expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
    expect(e.describe()).toContain('online_store.direct_reads');
  });
});

describe('online_store.near_cache_mb', () => {
  it('is 0 (no near cache) unless set, and takes megabytes', async () => {
    const redis = (yaml: string) => load(`project: t\nonline_store:\n  type: redis\n${yaml}`).then((c) => c.online_store as { near_cache_mb: number });
    expect((await redis('')).near_cache_mb).toBe(0);
    expect((await redis('  near_cache_mb: 256\n')).near_cache_mb).toBe(256);
  });

  it('a negative or non-numeric value is CONFIG_INVALID naming the field', async () => {
    for (const bad of ['-1', '"lots"', '0.5', '40000']) {
      const e = await load(`project: t\nonline_store:\n  type: redis\n  near_cache_mb: ${bad}\n`).catch((x) => x);
      expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
      expect(e.describe()).toContain('online_store.near_cache_mb');
    }
  });
});

describe('serving.grpc_max_connection_age_ms and the other gRPC connection limits', () => {
  const defaults = { grpc_max_connection_age_ms: 0, grpc_max_connection_age_grace_ms: 30_000, grpc_max_connection_idle_ms: 0, grpc_keepalive_time_ms: 7_200_000, grpc_keepalive_timeout_ms: 20_000 };

  it("default to gRPC's: no age or idle limit, a keepalive PING after 2 h quiet, 20 s to answer it; each takes ms", async () => {
    expect((await load('project: t\n')).serving).toMatchObject(defaults);
    const set = await load('project: t\nserving:\n  grpc_max_connection_age_ms: 1800000\n  grpc_max_connection_age_grace_ms: 5000\n  grpc_max_connection_idle_ms: 600000\n  grpc_keepalive_time_ms: 0\n  grpc_keepalive_timeout_ms: 1000\n');
    expect(set.serving).toMatchObject({ grpc_max_connection_age_ms: 1_800_000, grpc_max_connection_age_grace_ms: 5000, grpc_max_connection_idle_ms: 600_000, grpc_keepalive_time_ms: 0, grpc_keepalive_timeout_ms: 1000 });
  });

  it('a negative, fractional or non-numeric value is CONFIG_INVALID naming the field', async () => {
    for (const name of Object.keys(defaults)) {
      for (const bad of ['-1', '1.5', 'soon']) {
        const e = await load(`project: t\nserving:\n  ${name}: ${bad}\n`).catch((x) => x);
        expect(e, `${name}: ${bad}`).toMatchObject({ reason: 'CONFIG_INVALID' });
        expect(e.describe()).toContain(`serving.${name}`);
      }
    }
  });

  it('reach the gRPC server `pitstop serve` starts: an idle connection is sent GOAWAY', async () => {
    const repo = await mkdtemp(path.join(os.tmpdir(), 'pitstop-life-'));
    try {
      await writeFile(path.join(repo, 'pitstop.yaml'), 'project: t\nserving:\n  host: 127.0.0.1\n  grpc_port: 0\n  http_port: 0\n  grpc_max_connection_idle_ms: 300\n');
      const handle = await startServing(await loadConfig(repo, {}), { log: () => {} });
      try {
        const session = http2.connect(`http://127.0.0.1:${handle.server.grpcPort}`);
        session.on('error', () => {});
        const started = Date.now();
        const code = await new Promise<number>((resolve, reject) => {
          session.once('goaway', (c: number) => resolve(c));
          setTimeout(() => reject(new Error('no GOAWAY within 5 s')), 5000).unref();
        });
        // Idle for 300 ms, found by the once-a-second sweep: between 0.3 and ~1.4 s.
        expect(code).toBe(http2.constants.NGHTTP2_NO_ERROR);
        expect(Date.now() - started).toBeGreaterThanOrEqual(300);
        const metrics = await (await fetch(`http://127.0.0.1:${handle.server.httpPort}/metrics`)).text();
        expect(metrics).toMatch(/^pitstop_grpc_connections_retired_total\{reason="max_idle"\} 1$/m);
        session.destroy();
      } finally {
        await handle.close(100);
      }
    } finally {
      await rm(repo, { recursive: true, force: true });
    }
  });
});
