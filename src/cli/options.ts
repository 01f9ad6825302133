/**
 * Command-line option parsing shared by every command, so that a time, a count or a feature
 * selection means the same thing whichever command it is given to. Each helper throws a USAGE
 * error naming the flag and the value at fault.
 */
import { PitstopError } from '../core/errors.ts';
import { parseInstant } from '../core/time.ts';

const TIME_FORMS = 'an ISO 8601 time (naive = UTC, e.g. 2026-01-31 or 2026-01-31T12:00:00+02:00), epoch milliseconds, or now';

/**
 * A time flag → epoch ms: `now`, epoch-millisecond digits, or ISO 8601 through `parseInstant`
 * (a time without an offset is UTC, never the machine's zone). Undefined when the flag is absent
 * and not required.
 */
export function timeOption(value: unknown, flag: string, opts: { required: true; now?: number }): number;
export function timeOption(value: unknown, flag: string, opts?: { required?: boolean; now?: number }): number | undefined;
export function timeOption(value: unknown, flag: string, opts: { required?: boolean; now?: number } = {}): number | undefined {
  if (value === undefined || value === '') {
    if (opts.required) throw new PitstopError('USAGE', `--${flag} is required (${TIME_FORMS})`);
    return undefined;
  }
  const text = String(value).trim();
  if (text === 'now') return opts.now ?? Date.now();
  if (/^\d+$/.test(text)) {
    const ms = Number(text);
    if (Number.isSafeInteger(ms)) return ms;
  }
  const ms = parseInstant(text);
  if (ms === undefined) throw new PitstopError('USAGE', `--${flag} "${text}" is not ${TIME_FORMS}`);
  return ms;
}

/** A `[--start] [--end]` pair; start must come before end when both are given. */
export function timeRange(values: Record<string, unknown>, required: boolean, now = Date.now()): { startMs?: number; endMs?: number } {
  const startMs = timeOption(values.start, 'start', { required, now });
  const endMs = timeOption(values.end, 'end', { required, now });
  if (startMs !== undefined && endMs !== undefined && startMs >= endMs) {
    throw new PitstopError('USAGE', `--start (${new Date(startMs).toISOString()}) must be before --end (${new Date(endMs).toISOString()})`);
  }
  return { startMs, endMs };
}

/** A whole-number flag (underscores allowed as separators: 10_000_000), at least `min`. */
export function intOption(value: unknown, flag: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  const text = String(value).replaceAll('_', '');
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
    throw new PitstopError('USAGE', `--${flag} must be a whole number ${range}, got "${String(value)}"`);
  }
  return n;
}

/** `--registry-version N`: a positive integer, or undefined for the current version. */
export function registryVersionOption(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]*$/.test(String(value))) throw new PitstopError('USAGE', `--registry-version must be a positive integer, got "${String(value)}"`);
  return Number(value);
}

/** The feature selection flags every reading command takes. */
export const FEATURE_SELECTION_OPTIONS = {
  features: { type: 'string' },
  'feature-service': { type: 'string' },
  'full-feature-names': { type: 'boolean' },
} as const;

export type FeatureSelection =
  | { features: string[]; featureService?: undefined; fullFeatureNames: boolean }
  | { features?: undefined; featureService: string; fullFeatureNames: boolean };

/** Exactly one of `--features view:f,...` and `--feature-service NAME`, plus `--full-feature-names`. */
export function featureSelection(values: Record<string, unknown>): FeatureSelection {
  const features = typeof values.features === 'string' ? values.features.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const service = typeof values['feature-service'] === 'string' ? values['feature-service'] : undefined;
  if ((features === undefined) === (service === undefined)) throw new PitstopError('USAGE', 'give exactly one of --features view:feature,... or --feature-service NAME');
  const fullFeatureNames = values['full-feature-names'] === true;
  if (features !== undefined) {
    if (features.length === 0) throw new PitstopError('USAGE', '--features is empty');
    return { features, fullFeatureNames };
  }
  return { featureService: service!, fullFeatureNames };
}
