/**
 * The dependency rule for the foundation's folders (architecture.md, "Layers"): definitions
 * import only core; registry imports core and definitions; CLI commands reach adapters only
 * through app/. Imports are read from the sources, so a violation fails here, not in review.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../cli/helpers.ts';

const RULES: Record<string, string[]> = {
  'src/definitions': ['core', 'definitions'],
  'src/registry': ['core', 'definitions', 'registry'],
  'src/example': ['core', 'example'],
  'src/cli': ['app', 'config', 'core', 'definitions', 'registry', 'cli'],
};

function files(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('layers', () => {
  for (const [dir, allowed] of Object.entries(RULES)) {
    it(`${dir} imports only ${allowed.join(', ')}`, () => {
      const bad: string[] = [];
      for (const file of files(dir)) {
        const text = readFileSync(path.join(ROOT, file), 'utf8');
        for (const m of text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/gm)) {
          const target = path.relative(path.join(ROOT, 'src'), path.resolve(path.dirname(path.join(ROOT, file)), m[1]));
          const layer = target.split(path.sep)[0];
          if (!allowed.includes(layer)) bad.push(`${file} → ${m[1]}`);
        }
      }
      expect(bad).toEqual([]);
    });
  }
});
