/**
 * One error class for the whole of pitstop. Every error carries a gRPC canonical code (how a
 * transport should answer) and a stable machine-readable reason from the catalog in
 * `error-catalog.ts` (what exactly went wrong). Transports map codes with their own small tables;
 * anything that is not a PitstopError is INTERNAL and its details never reach a client.
 */
import { ERROR_CATALOG, type ErrorReason } from './error-catalog.ts';

export type ErrorCode =
  | 'CANCELLED'
  | 'INVALID_ARGUMENT'
  | 'DEADLINE_EXCEEDED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'FAILED_PRECONDITION'
  | 'ABORTED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

/** One located problem, e.g. a definition field: `definitions/riders.yaml:14 feature_views[0].ttl`. */
export interface Problem {
  /** File the problem is in, relative to the feature repository when known. */
  file?: string;
  /** 1-based line when the parser knows it. */
  line?: number;
  /** Path inside the document or request, e.g. `feature_views[0].features[2].type`. */
  path?: string;
  message: string;
}

export function formatProblem(p: Problem): string {
  const where = [p.file && (p.line ? `${p.file}:${p.line}` : p.file), p.path].filter(Boolean).join(' ');
  return where ? `${where}: ${p.message}` : p.message;
}

export class PitstopError extends Error {
  readonly code: ErrorCode;
  readonly reason: ErrorReason;
  /** Every problem found, when the error collects several (validation reports all at once). */
  readonly problems: readonly Problem[];

  constructor(reason: ErrorReason, message: string, options: { problems?: Problem[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PitstopError';
    this.reason = reason;
    this.code = ERROR_CATALOG[reason].code;
    this.problems = Object.freeze(options.problems ?? []);
  }

  /** The message followed by one line per problem. */
  describe(): string {
    if (this.problems.length === 0) return this.message;
    return [this.message, ...this.problems.map((p) => `  ${formatProblem(p)}`)].join('\n');
  }
}

export function isPitstopError(e: unknown): e is PitstopError {
  return e instanceof PitstopError;
}

/** Text from input as an error message shows it: JSON-quoted, cut at 40 characters. */
export function shownText(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
