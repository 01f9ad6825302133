/**
 * The CLI's command table (src/cli/commands/index.ts): every entry loads the command it names,
 * and a command's module leaves the other commands' stacks unloaded, so `pitstop serve` on Redis
 * never has DuckDB or LMDB in its process (checked in a fresh process: vitest's own module graph
 * would hide what the import pulls in).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { COMMANDS, loadCommands } from '../../src/cli/commands/index.ts';
import { helpText } from '../../src/cli/main.ts';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');

describe('CLI command table', () => {
  it('every entry loads the command of its own name, and help lists them all', async () => {
    const loaded = await loadCommands();
    expect(loaded.map((c) => c.name)).toEqual(COMMANDS.map((c) => c.name));
    expect(new Set(COMMANDS.map((c) => c.name)).size).toBe(COMMANDS.length);
    const help = await helpText();
    for (const c of loaded) expect(help).toContain(`  ${c.name}`);
  });

  it('loading serve and opening the Redis adapter pulls in neither DuckDB nor LMDB', async () => {
    const script = `
      const { COMMANDS } = await import('./src/cli/commands/index.ts');
      await COMMANDS.find((c) => c.name === 'serve').load();
      await import('./src/online/redis/redis-store.ts');
      const { createRequire } = await import('node:module');
      const cache = Object.keys(createRequire(import.meta.url).cache);
      const heavy = cache.filter((f) => /[\\\\/]node_modules[\\\\/](@duckdb|lmdb|apache-arrow)[\\\\/]/.test(f));
      process.stdout.write(JSON.stringify({ heavy, modules: cache.length }));
    `;
    const { stdout } = await exec(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT });
    const r = JSON.parse(stdout) as { heavy: string[]; modules: number };
    expect(r.modules).toBeGreaterThan(0);
    expect(r.heavy).toEqual([]);
  });
});
