/**
 * The dependency rule (docs/architecture.md, "Layers"), read from the sources: each folder of
 * src/ may import only what its row allows, and concrete adapters are imported only by the
 * composition root src/app/. One table for the whole tree, so a new folder or a new exception is
 * one reviewed line here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.resolve('src');

/** The codecs and ports of src/online that are pure (no store I/O): serving and friends may use them. */
const ONLINE_PURE = /^online\/(ports|row-codec|value-codec|entity-key|status|byte-writer|lookup|expiry|storage-format)\.ts$/;
/** Concrete adapters: only app/, other adapters and the adapter's own folder may import them. */
const ADAPTERS = /^(online\/(redis|embedded)\/|registry\/(file-store|duckdb-source-probe)\.ts$|offline\/duckdb-)/;

const RULES: Record<string, RegExp[]> = {
  core: [/^core\//],
  config: [/^(core|config)\//],
  definitions: [/^(core|definitions)\//],
  registry: [/^(core|definitions|registry)\//],
  offline: [/^(core|offline)\//, /^registry\/resolve\.ts$/],
  online: [/^(core|online)\//, /^registry\/resolve\.ts$/],
  materialize: [/^(core|materialize)\//, /^registry\/(resolve|store)\.ts$/, /^offline\/ports\.ts$/, ONLINE_PURE],
  consistency: [/^(core|consistency)\//, /^registry\/resolve\.ts$/, /^offline\/ports\.ts$/, ONLINE_PURE],
  serving: [/^(core|serving)\//, /^registry\/(resolve|store)\.ts$/, ONLINE_PURE],
  client: [/^(core|client)\//, /^serving\/proto\.ts$/, /^online\/value-codec\.ts$/],
  example: [/^(core|example)\//, /^offline\/sql\.ts$/],
  cli: [/^(core|config|cli|app)\//, /^definitions\//, /^registry\/(resolve|diff|workflow)\.ts$/],
  app: [/./],
};

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

/** Relative imports of a file, as paths relative to src/ with forward slashes. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)(?:\s+type)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) =>
    path.relative(SRC, path.resolve(path.dirname(file), m[1])).split(path.sep).join('/'),
  );
}

const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);

describe('dependency rule', () => {
  it('has a rule for every folder of src/', () => {
    expect(folders.filter((f) => !(f in RULES))).toEqual([]);
  });

  for (const folder of folders.filter((f) => f in RULES)) {
    it(`src/${folder} imports only what its row allows`, () => {
      const bad: string[] = [];
      for (const file of files(path.join(SRC, folder))) {
        const own = path.relative(SRC, file).split(path.sep).join('/');
        for (const target of imports(file)) {
          const allowed = RULES[folder].some((re) => re.test(target));
          const adapterLeak = ADAPTERS.test(target) && folder !== 'app' && !ADAPTERS.test(own) && !sameFolder(own, target);
          if (!allowed || adapterLeak) bad.push(`${own} → ${target}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }

  it('catches a violation (the rule is not vacuous)', () => {
    expect(RULES.serving.some((re) => re.test('online/redis/redis-store.ts'))).toBe(false);
    expect(ADAPTERS.test('online/redis/redis-store.ts')).toBe(true);
    expect(RULES.core.some((re) => re.test('offline/sql.ts'))).toBe(false);
  });
});

function sameFolder(a: string, b: string): boolean {
  return path.posix.dirname(a) === path.posix.dirname(b);
}
