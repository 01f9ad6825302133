/** `npm start` (quickstart) also materializes the example data, so `online get` answers right after. */
import { describe, expect, it } from 'vitest';
import { copyExampleRepo, runCli, tempDir } from '../cli/helpers.ts';

describe('quickstart materializes the example repository into the embedded store', () => {
  it('then online get returns stored values with statuses', async () => {
    const { dir, cleanup } = await tempDir('pitstop-qs-online-');
    try {
      await copyExampleRepo(dir);
      const qs = await runCli(['quickstart', '--repo', dir, '--no-serve']);
      expect(qs.code).toBe(0);
      expect(qs.stdout).toMatch(/driver_stats@1: \d+ rows/);
      const r = await runCli(['online', 'get', '--repo', dir, '--entity', 'driver_id=1', '--features', 'driver_stats:rating,driver_embedding:embedding']);
      expect(r.stderr).toBe('');
      const out = JSON.parse(r.stdout);
      // The data quickstart generates ends now, with a snapshot of every driver 10-30 minutes
      // before that: driver_stats (ttl 1h) reads PRESENT, as the embedding (no ttl) does.
      expect(out.features.rating.statuses).toEqual(['PRESENT']);
      expect(typeof out.features.rating.values[0]).toBe('number');
      const age = Date.now() - Date.parse(out.features.rating.event_timestamps[0]);
      expect(age).toBeGreaterThanOrEqual(10 * 60_000);
      expect(age).toBeLessThan(60 * 60_000);
      expect(out.features.embedding.statuses).toEqual(['PRESENT']);
      expect(out.features.embedding.values[0]).toHaveLength(16);
    } finally {
      await cleanup();
    }
  });
});
