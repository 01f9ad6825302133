/**
 * Reads every `*.yaml` / `*.yml` file under a repository's `definitions/` directory and checks
 * each object against the schema, keeping positions (parseDocument + LineCounter) so that every
 * problem carries file, line and path. Objects are checked one at a time, so one bad object
 * does not hide the problems of the others; the caller decides when to fail.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { Problem } from '../core/errors.ts';
import type { Definitions, Located } from './model.ts';
import { SECTIONS, type SectionName } from './schema.ts';
import { formatPath, lineOf, type PathPart } from './yaml-positions.ts';

export interface LoadResult {
  definitions: Definitions;
  problems: Problem[];
  /** Names of objects that failed the schema, per section: references to them are not reported again. */
  invalidNames: Record<SectionName, Set<string>>;
}

const SECTION_KEYS: Record<SectionName, keyof Omit<Definitions, 'files'>> = {
  entities: 'entities',
  sources: 'sources',
  feature_views: 'featureViews',
  feature_services: 'featureServices',
};

const FileShape = z.strictObject({
  entities: z.array(z.unknown()).optional(),
  sources: z.array(z.unknown()).optional(),
  feature_views: z.array(z.unknown()).optional(),
  feature_services: z.array(z.unknown()).optional(),
});

export async function loadDefinitions(repoDir: string, dir = 'definitions'): Promise<LoadResult> {
  const root = path.resolve(repoDir);
  const defsDir = path.resolve(root, dir);
  const definitions: Definitions = { files: [], entities: [], sources: [], featureViews: [], featureServices: [] };
  const problems: Problem[] = [];
  const invalidNames = { entities: new Set<string>(), sources: new Set<string>(), feature_views: new Set<string>(), feature_services: new Set<string>() };
  let files: string[];
  try {
    files = await listYamlFiles(defsDir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    problems.push({ file: toRepoPath(root, defsDir), message: 'no definitions directory (expected YAML files in definitions/)' });
    return { definitions, problems, invalidNames };
  }
  for (const abs of files) {
    const file = toRepoPath(root, abs);
    definitions.files.push(file);
    parseFile(file, await readFile(abs, 'utf8'), definitions, problems, invalidNames);
  }
  return { definitions, problems, invalidNames };
}

/** Parses one file's text into `into`; exported for tests that check a single document. */
export function parseFile(
  file: string,
  text: string,
  into: Definitions,
  problems: Problem[],
  invalidNames: LoadResult['invalidNames'],
): void {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      problems.push({ file, line: err.linePos?.[0]?.line ?? lineCounter.linePos(err.pos[0]).line, message: `YAML syntax: ${err.message.split('\n')[0]}` });
    }
    return;
  }
  const at = (parts: readonly PathPart[], message: string): Problem => ({
    file,
    line: lineOf(doc, lineCounter, parts),
    path: formatPath(parts) || undefined,
    message,
  });
  const raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
  const shape = FileShape.safeParse(raw, { reportInput: true });
  if (!shape.success) {
    problems.push(...issuesToProblems(shape.error.issues, [], at));
    return;
  }
  for (const section of Object.keys(SECTIONS) as SectionName[]) {
    const items = shape.data[section] ?? [];
    items.forEach((item, index) => {
      const base: PathPart[] = [section, index];
      const parsed = SECTIONS[section].safeParse(item, { reportInput: true });
      if (!parsed.success) {
        problems.push(...issuesToProblems(parsed.error.issues, base, at));
        const name = (item as { name?: unknown } | null)?.name;
        if (typeof name === 'string') invalidNames[section].add(name);
        return;
      }
      const located: Located<unknown> = {
        value: parsed.data,
        file,
        line: lineOf(doc, lineCounter, base),
        path: formatPath(base),
        problem: (sub, message) => at([...base, ...sub], message),
      };
      (into[SECTION_KEYS[section]] as Located<unknown>[]).push(located);
    });
  }
}

function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  base: readonly PathPart[],
  at: (parts: readonly PathPart[], message: string) => Problem,
): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const parts = [...base, ...(issue.path as PathPart[])];
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(at([...parts, key], `unknown key "${key}"`));
    } else if (issue.code === 'invalid_type' && issue.input === undefined) {
      out.push(at(parts, 'is required'));
    } else {
      out.push(at(parts, issue.message));
    }
  }
  return out;
}

async function listYamlFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listYamlFiles(abs)));
    else if (e.isFile() && /\.ya?ml$/i.test(e.name)) out.push(abs);
  }
  return out;
}

function toRepoPath(root: string, abs: string): string {
  return path.relative(root, abs).split(path.sep).join('/');
}
