/** pitstop.yaml's `serving.gc_memory_reducer`: off by default, a boolean, a bad value named. */
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

describe('serving.gc_memory_reducer', () => {
  it('is false unless set, and takes true', async () => {
    expect((await load('project: t\n')).serving.gc_memory_reducer).toBe(false);
    expect((await load('project: t\nserving:\n  gc_memory_reducer: true\n')).serving.gc_memory_reducer).toBe(true);
  });

  it('a non-boolean is CONFIG_INVALID naming the field', async () => {
    const e = await load('project: t\nserving:\n  gc_memory_reducer: sometimes\n').catch((x) => x);
    expect(e).toMatchObject({ reason: 'CONFIG_INVALID' });
    expect(e.describe()).toContain('serving.gc_memory_reducer');
  });
});
