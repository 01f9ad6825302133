/**
 * Instants as users write them, parsed one way everywhere (CLI flags, pushed rows, JSON
 * requests): ISO 8601 with an offset (`2024-01-31T12:00:00+02:00`, `...Z`), a naive date-time or
 * date (`2024-01-31 12:00`, `2024-01-31`), which means UTC, never the machine's local zone.
 */
const NAIVE = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?$/;
const WITH_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$/;

/** Epoch milliseconds of an ISO 8601 instant (naive = UTC), or undefined when it is not one. */
export function parseInstant(text: string): number | undefined {
  const s = text.trim();
  const naive = NAIVE.exec(s);
  let iso: string;
  if (naive) iso = `${naive[1]}T${naive[2] ?? '00:00'}Z`;
  else if (WITH_OFFSET.test(s)) iso = s.replace(' ', 'T').replace(/([+-]\d{2})$/, '$1:00');
  else return undefined;
  // Date.parse keeps milliseconds only; finer digits are truncated, as everywhere in pitstop.
  const ms = Date.parse(iso.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : ms;
}
