/**
 * The dependency rule for serving (architecture.md, "Layers"): src/serving imports core,
 * registry, itself, the online reader port and the pure online codecs (and lookup.ts's JSON
 * rendering) — never the Redis or
 * embedded adapters, offline, materialize or the composition root. src/client imports only the
 * serving proto and the Value codec.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ONLINE_ALLOWED = new Set(['ports.ts', 'row-codec.ts', 'value-codec.ts', 'entity-key.ts', 'status.ts', 'byte-writer.ts', 'lookup.ts'].map((f) => path.join('online', f)));

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)(?:\s+type)?[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)].map((m) =>
    path.relative(path.join(ROOT, 'src'), path.resolve(path.dirname(path.join(ROOT, file)), m[1])),
  );
}

describe('serving layers', () => {
  it('src/serving reaches the online store only through the reader port and the pure codecs', () => {
    const checked = files('src/serving');
    expect(checked.length).toBeGreaterThan(5);
    const bad = checked.flatMap((f) =>
      imports(f)
        .filter((t) => {
          const layer = t.split(path.sep)[0];
          if (layer === 'online') return !ONLINE_ALLOWED.has(t);
          return !['core', 'registry', 'serving'].includes(layer);
        })
        .map((t) => `${f} → ${t}`),
    );
    expect(bad).toEqual([]);
  });

  it('src/client imports only the serving proto and the Value codec', () => {
    const bad = files('src/client').flatMap((f) =>
      imports(f)
        .filter((t) => !t.startsWith(`client${path.sep}`) && t !== path.join('serving', 'proto.ts') && t !== path.join('online', 'value-codec.ts'))
        .map((t) => `${f} → ${t}`),
    );
    expect(bad).toEqual([]);
  });
});
