/** pitstop.yaml switches of the online store and serving (`serving.gc_memory_reducer`, `serving.gc_pretenuring`, `online_store.direct_reads`, `online_store.near_cache_mb`): defaults, set values, a bad value named. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.ts';

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

describe('serving.gc_initial_old_space_mb', () => {
  it('is 64 unless set, takes 0 (V8\'s default) and other sizes', async () => {
    expect((await load('project: t\n')).serving.gc_initial_old_space_mb).toBe(64);
    expect((await load('project: t\nserving:\n  gc_initial_old_space_mb: 0\n')).serving.gc_initial_old_space_mb).toBe(0);
    expect((await load('project: t\nserving:\n  gc_initial_old_space_mb: 256\n')).serving.gc_initial_old_space_mb).toBe(256);
  });

  it('a negative or fractional size is CONFIG_INVALID naming the field', async () => {
    for (const bad of ['-1', '1.5', 'big']) {
      const e = await load(`project: t\nserving:\n  gc_initial_old_space_mb: ${bad}\n`).catch((x) => x);
      expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
      expect(e.describe()).toContain('serving.gc_initial_old_space_mb');
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
