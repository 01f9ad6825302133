/**
 * The dependency rule for the online area (architecture.md, "Layers"): src/online imports only
 * core, registry types and itself (never offline, serving or materialize); src/materialize uses
 * the offline and online *ports* and codecs, never the concrete online adapters. The two DuckDB
 * adapters kept in src/materialize (push log writer, push file reader) are the listed exception.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve('.');
const ADAPTERS_IN_MATERIALIZE = new Set(['src/materialize/duckdb-push-log.ts', 'src/materialize/push-file.ts']);

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

function imports(file: string): { target: string; typeOnly: boolean }[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(import|export)(\s+type)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) => ({
    target: path.relative(path.join(ROOT, 'src'), path.resolve(path.dirname(path.join(ROOT, file)), m[3])),
    typeOnly: Boolean(m[2]),
  }));
}

describe('online layers', () => {
  it('src/online imports only core, registry (types) and online', () => {
    const bad = files('src/online').flatMap((f) =>
      imports(f)
        .filter(({ target, typeOnly }) => {
          const layer = target.split(path.sep)[0];
          return !(layer === 'core' || layer === 'online' || (layer === 'registry' && typeOnly));
        })
        .map((i) => `${f} → ${i.target}`),
    );
    expect(bad).toEqual([]);
  });

  it('src/materialize uses ports and codecs, not concrete online adapters or offline internals', () => {
    const bad = files('src/materialize').flatMap((f) =>
      imports(f)
        .filter(({ target }) => {
          if (target.startsWith(`online${path.sep}redis`) || target.startsWith(`online${path.sep}embedded`)) return true;
          if (target.startsWith(`offline${path.sep}`) && target !== path.join('offline', 'ports.ts')) return !ADAPTERS_IN_MATERIALIZE.has(f);
          const layer = target.split(path.sep)[0];
          return !['core', 'registry', 'offline', 'online', 'materialize'].includes(layer);
        })
        .map((i) => `${f} → ${i.target}`),
    );
    expect(bad).toEqual([]);
  });
});
