import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CATALOG } from '../../src/core/error-catalog.ts';
import { ROOT } from '../cli/helpers.ts';

/** Rows of README.md's error catalog table: reason → [code, meaning]. */
function readmeCatalog(): Map<string, [string, string]> {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const m = /<!-- error-catalog:start -->([\s\S]*?)<!-- error-catalog:end -->/.exec(readme);
  expect(m, 'README.md has no error catalog markers').not.toBeNull();
  const rows = new Map<string, [string, string]>();
  for (const line of m![1].split('\n')) {
    const cells = /^\|\s*`([A-Z_]+)`\s*\|\s*([A-Z_]+)\s*\|\s*(.*?)\s*\|\s*$/.exec(line);
    if (cells) {
      expect(rows.has(cells[1]), `${cells[1]} is listed twice in README.md`).toBe(false);
      rows.set(cells[1], [cells[2], cells[3].replaceAll('\\|', '|')]);
    }
  }
  return rows;
}

describe('error catalog', () => {
  it('README.md lists exactly the reasons of src/core/error-catalog.ts, with their codes and meanings', () => {
    const rows = readmeCatalog();
    const expected = Object.entries(ERROR_CATALOG).map(([reason, spec]) => `| \`${reason}\` | ${spec.code} | ${spec.description} |`);
    const missing = Object.keys(ERROR_CATALOG).filter((r) => !rows.has(r));
    expect(missing, `add these rows to README.md's error catalog:\n${expected.filter((l) => missing.some((r) => l.includes(`\`${r}\``))).join('\n')}`).toEqual([]);
    const extra = [...rows.keys()].filter((r) => !Object.hasOwn(ERROR_CATALOG, r));
    expect(extra, 'README.md lists reasons the code does not have').toEqual([]);
    for (const [reason, spec] of Object.entries(ERROR_CATALOG)) {
      expect(rows.get(reason), reason).toEqual([spec.code, spec.description]);
    }
  });
});
