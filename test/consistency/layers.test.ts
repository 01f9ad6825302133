/**
 * The consistency check's dependency rule: src/consistency sees the stores only through their
 * ports (offline/ports.ts, online/ports.ts) and the pure online codecs, never an adapter or
 * DuckDB; only src/app/consistency.ts composes it with the configured stores.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/helpers.ts';

const ALLOWED = [/^core\//, /^registry\/resolve\.ts$/, /^offline\/ports\.ts$/, /^online\/(ports|row-codec|value-codec|entity-key)\.ts$/, /^consistency\//];

describe('layers: src/consistency', () => {
  it('imports only core, registry/resolve, the store ports and the online codecs', () => {
    const dir = path.join(ROOT, 'src/consistency');
    const bad: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/gm)) {
        if (!m[1].startsWith('.')) {
          if (!['apache-arrow'].includes(m[1]) && !m[1].startsWith('node:')) bad.push(`${file} → ${m[1]}`);
          continue;
        }
        const target = path.relative(path.join(ROOT, 'src'), path.resolve(dir, m[1])).split(path.sep).join('/');
        if (!ALLOWED.some((re) => re.test(target))) bad.push(`${file} → ${m[1]}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
