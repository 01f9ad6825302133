/**
 * `pitstop serve` end to end, as users run it: a temp feature repository on the embedded store,
 * two cluster workers sharing the ports, a registry version applied while serving (picked up by
 * polling the real registry store), aggregated /metrics, and a clean exit on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileRegistryStore } from '../../src/registry/file-store.ts';
import { EmbeddedOnlineStore } from '../../src/online/embedded/embedded-store.ts';
import { PitstopClient } from '../../src/client/client.ts';
import { freePort } from '../support/redis-server.ts';
import { servingRows, servingSnapshot } from './fixture.ts';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('pitstop serve --workers 2', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-serve-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the embedded store from two workers, picks up a new registry version, exits cleanly on SIGTERM', async () => {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    // No start-up warm-up: the request counts below are exact (warmup.test.ts and quickstart-serve.test.ts cover it).
    writeFileSync(path.join(dir, 'pitstop.yaml'), `project: test\nserving:\n  host: 127.0.0.1\n  grpc_port: ${grpcPort}\n  http_port: ${httpPort}\n  registry_poll_ms: 100\n  warmup_ms: 0\n`);
    const registry = await FileRegistryStore.create(path.join(dir, '.pitstop/registry'));
    const v1 = servingSnapshot();
    await registry.commit(v1);
    const store = await EmbeddedOnlineStore.create({ dir: path.join(dir, '.pitstop/online') });
    await store.writeRows(servingRows(v1));
    await store.close();

    const child = spawn(process.execPath, ['bin/pitstop.mjs', 'serve', '--repo', dir, '--workers', '2'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const client = new PitstopClient(`127.0.0.1:${grpcPort}`);
    try {
      // Startup (two workers compiling TypeScript) can be slow on a busy machine.
      let ready = false;
      for (let i = 0; i < 400 && !ready; i++) {
        ready = stderr.includes('all 2 workers ready') && (await fetch(`http://127.0.0.1:${httpPort}/readyz`).then((r) => r.ok, () => false));
        if (!ready) await new Promise((r) => setTimeout(r, 50));
      }
      expect(ready, stderr).toBe(true);
      const r = await client.getOnlineFeatures({ featureService: 'ranking', entities: { driver_id: [1, 3] } });
      expect(r.column('trips_today').values).toEqual([12n, null]);
      expect(r.column('trips_today').statuses).toEqual(['PRESENT', 'NOT_FOUND']);
      expect(stderr).toContain('starting 2 workers');

      // Apply version 2 (a new feature service) while serving: every worker picks it up by polling.
      const v2 = { ...servingSnapshot(2, {}), parentHash: v1.hash };
      const withService = { ...v2, featureServices: { ...v2.featureServices, fresh: { name: 'fresh', tags: {}, features: [{ view: 'driver_stats', version: 1, feature: 'rating', pinned: false }] } } };
      const { snapshotHash } = await import('../../src/registry/snapshot-hash.ts');
      await registry.commit({ ...withService, hash: snapshotHash(withService) });
      let fresh;
      for (let i = 0; i < 200 && !fresh; i++) {
        // Several calls: each may land on either worker; both must have swapped.
        const rs = await Promise.all([1, 2, 3, 4].map(() => client.getOnlineFeatures({ featureService: 'fresh', entities: { driver_id: [1] } }).catch(() => undefined)));
        if (rs.every((x) => x?.registryVersion === 2)) fresh = rs[0];
        else await new Promise((r) => setTimeout(r, 50));
      }
      expect(fresh?.column('rating').values).toEqual([4.5]);

      // Aggregated over both workers: the version gauge is the lowest any worker serves, so it
      // reads 2 once both have swapped; the request counter sums both workers.
      let metrics = '';
      for (let i = 0; i < 100 && !/^pitstop_registry_version 2$/m.test(metrics); i++) {
        if (i > 0) await new Promise((r) => setTimeout(r, 100));
        metrics = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
      }
      expect(metrics, stderr).toMatch(/^pitstop_registry_version 2$/m);
      expect(metrics, stderr).toMatch(/pitstop_request_duration_seconds_count\{transport="grpc",method="GetOnlineFeatures",feature_service="ranking"\} 1/);
      expect(metrics).not.toContain('did not answer');
      // The workers' process metrics, aggregated too (CPU summed, event-loop delay averaged).
      expect(metrics).toMatch(/^process_cpu_seconds_total [0-9.e-]+$/m);
      expect(metrics).toMatch(/^nodejs_eventloop_lag_p99_seconds [0-9.e-]+$/m);
    } finally {
      client.close();
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(stderr).toContain('shutting down');
    await registry.close();
  }, 60_000);
});

describe('pitstop serve and V8\'s heap settings (serving.gc_memory_reducer, gc_initial_old_space_mb)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-serve-gc-'));
    const registry = await FileRegistryStore.create(path.join(dir, '.pitstop/registry'));
    await registry.commit(servingSnapshot());
    await registry.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** Starts `pitstop serve --workers 1` (plain node), waits until it listens; returns the serving process's command line. */
  async function serveOnce(extra = ''): Promise<{ cmdline: string[]; inProcess: boolean; stderr: string }> {
    const [grpcPort, httpPort] = [await freePort(), await freePort()];
    writeFileSync(path.join(dir, 'pitstop.yaml'), `project: test\nserving:\n  host: 127.0.0.1\n  grpc_port: ${grpcPort}\n  http_port: ${httpPort}\n${extra}`);
    const child = spawn(process.execPath, ['bin/pitstop.mjs', 'serve', '--repo', dir, '--workers', '1'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 200 && !/gRPC on /.test(stderr); i++) await new Promise((r) => setTimeout(r, 50));
      const line = stderr.split('\n').find((l) => l.includes('gRPC on '));
      expect(line, stderr).toBeDefined();
      // A worker logs `pitstop serve [pid]: ...`; the process itself logs `pitstop serve: ...`.
      const pid = Number(line!.match(/\[(\d+)\]/)?.[1] ?? child.pid);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      return { cmdline, inProcess: pid === child.pid, stderr };
    } finally {
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
  }

  it('by default the serving process runs with --no-memory-reducer, no allocation-site pretenuring and a 64 MB initial old space (one worker started with them)', async () => {
    const r = await serveOnce();
    expect(r.inProcess, r.stderr).toBe(false);
    expect(r.cmdline).toContain('--no-memory-reducer');
    expect(r.cmdline).toContain('--no-allocation-site-pretenuring');
    expect(r.cmdline).toContain('--initial-old-space-size=64');
    expect(r.stderr).toContain('starting 1 worker (node --no-memory-reducer --no-allocation-site-pretenuring --initial-old-space-size=64)');
  }, 30_000);

  it('gc_initial_old_space_mb sets the size, gc_pretenuring: true leaves pretenuring on; with the size 0 and both switches true, --workers 1 serves in its own process with V8\'s defaults', async () => {
    const sized = await serveOnce('  gc_initial_old_space_mb: 128\n');
    expect(sized.cmdline).toContain('--initial-old-space-size=128');
    const pretenuring = await serveOnce('  gc_pretenuring: true\n');
    expect(pretenuring.cmdline).not.toContain('--no-allocation-site-pretenuring');
    expect(pretenuring.cmdline).toContain('--no-memory-reducer');
    const r = await serveOnce('  gc_memory_reducer: true\n  gc_initial_old_space_mb: 0\n  gc_pretenuring: true\n');
    expect(r.inProcess, r.stderr).toBe(true);
    expect(r.cmdline).not.toContain('--no-memory-reducer');
    expect(r.cmdline).not.toContain('--no-allocation-site-pretenuring');
    expect(r.cmdline.some((a) => a.startsWith('--initial-old-space-size'))).toBe(false);
  }, 30_000);
});
