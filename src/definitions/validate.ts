/**
 * The definitions front door: load every file, check schema, semantics and expressions, and fail
 * with one DEFINITION_INVALID error listing every problem (file:line path: message), or return
 * the definitions ready for the registry compiler.
 */
import { PitstopError, type Problem } from '../core/errors.ts';
import { loadDefinitions } from './load.ts';
import type { Definitions } from './model.ts';
import { checkSemantics } from './semantic.ts';
import { checkSourceColumns } from './source-columns.ts';
import type { SourceSchemaProbe } from './source-schema-probe.ts';

export interface ValidateOptions {
  /**
   * DuckDB access for expression parsing and source schemas. Default: none, which skips the
   * expression and column checks (only the CLI and tests with a real probe run them).
   */
  probe?: SourceSchemaProbe;
}

export async function validateDefinitions(repoDir: string, options: ValidateOptions = {}): Promise<Definitions> {
  const { definitions, problems, invalidNames } = await loadDefinitions(repoDir);
  problems.push(...checkSemantics(definitions, invalidNames));
  if (options.probe) problems.push(...(await checkSourceColumns(definitions, options.probe)));
  throwIfProblems(problems, 'feature definitions are invalid');
  return definitions;
}

/** Throws DEFINITION_INVALID with the problems sorted by file and line, when there are any. */
export function throwIfProblems(problems: Problem[], message: string): void {
  if (problems.length === 0) return;
  const sorted = [...problems].sort(
    (a, b) => (a.file ?? '').localeCompare(b.file ?? '') || (a.line ?? 0) - (b.line ?? 0) || (a.path ?? '').localeCompare(b.path ?? ''),
  );
  const n = sorted.length;
  throw new PitstopError('DEFINITION_INVALID', `${message}: ${n} problem${n === 1 ? '' : 's'}`, { problems: sorted });
}
