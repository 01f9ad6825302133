/**
 * `npm start` end to end as users run it: quickstart on a fresh copy of the example repository
 * generates data, applies, materializes, then serves gRPC + HTTP in process until SIGTERM. Ports
 * 0 (PITSTOP_GRPC_PORT / PITSTOP_HTTP_PORT) pick free ones; the ready line says which.
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { PitstopClient } from '../../src/client/client.ts';
import { copyExampleRepo, ROOT, tempDir } from './helpers.ts';

describe('quickstart serves after materializing', () => {
  it('prints the ports and a curl line, answers a real lookup over HTTP and gRPC, exits 0 on SIGTERM', async () => {
    const { dir, cleanup } = await tempDir('pitstop-qs-serve-');
    await copyExampleRepo(dir);
    const child = spawn(process.execPath, ['bin/pitstop.mjs', 'quickstart', '--repo', dir], {
      cwd: ROOT,
      env: { ...process.env, PITSTOP_GRPC_PORT: '0', PITSTOP_HTTP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      let ready: RegExpMatchArray | null = null;
      // Generating, applying and materializing the example takes a while on a busy machine.
      for (let i = 0; i < 1200 && !ready && child.exitCode === null; i++) {
        ready = stdout.match(/Serving on gRPC ([\d.]+):(\d+) and HTTP ([\d.]+):(\d+)/);
        if (!ready) await new Promise((r) => setTimeout(r, 100));
      }
      expect(ready, `stdout:\n${stdout}\nstderr:\n${stderr}`).not.toBeNull();
      const [, grpcHost, grpcPort, httpHost, httpPort] = ready!;
      expect(Number(grpcPort)).toBeGreaterThan(0);
      expect(stdout).toContain(`curl -s http://${httpHost}:${httpPort}/v1/get-online-features`);
      expect(stdout).toContain('grpcurl -plaintext');
      // It warmed up before saying so (serving.warmup_ms, 1 s by default): lookups of its own over
      // gRPC, none failed, and it is ready.
      expect(stderr).toMatch(/warmed up: [1-9]\d* lookups of its own in \d+ ms; ready/);
      const metrics = await (await fetch(`http://${httpHost}:${httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^pitstop_requests_total\{transport="grpc",method="GetOnlineFeatures",code="OK"\} [1-9]/m);
      expect((await fetch(`http://${httpHost}:${httpPort}/readyz`)).status).toBe(200);

      // The embedding view has no ttl, so its materialized values are PRESENT.
      const res = await fetch(`http://${httpHost}:${httpPort}/v1/get-online-features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: ['driver_embedding:embedding', 'driver_stats:rating'], entities: { driver_id: [1, 2] } }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { results: { values: unknown[]; statuses: string[] }[] };
      expect(body.results[0].statuses).toEqual(['PRESENT', 'PRESENT']);
      expect(body.results[0].values[0]).toHaveLength(16);
      expect(typeof (body.results[1].values[0] as number)).toBe('number');
      // driver_stats (ttl 1h) too: the generated data ends with a snapshot of every driver.
      expect(body.results[1].statuses).toEqual(['PRESENT', 'PRESENT']);

      const client = new PitstopClient(`${grpcHost}:${grpcPort}`);
      try {
        const r = await client.getOnlineFeatures({ features: ['driver_embedding:embedding'], entities: { driver_id: [1] } });
        expect(r.column('embedding').statuses).toEqual(['PRESENT']);
      } finally {
        client.close();
      }

      // Push to the offline log through the composition root's wiring (DuckDB push log under the
      // repository's offline data dir), then online.
      const pushed = await fetch(`http://${httpHost}:${httpPort}/v1/push`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ feature_view: 'driver_stats', columns: { driver_id: [9001], event_timestamp: [Date.now()], rating: [4.9] }, to_offline: true }),
      });
      expect(await pushed.json()).toEqual({ written: 1, stale: 0, offline_rows: 1 });
      expect(readdirSync(path.join(dir, '.pitstop/offline/push/driver_stats/v1')).filter((f) => f.endsWith('.parquet'))).toHaveLength(1);

      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
      expect(stderr).toContain('shutting down');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await cleanup();
    }
  }, 180_000);
});
