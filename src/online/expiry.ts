/**
 * Record expiry for a written row (docs/online-storage-format.md, "Expiry"). A view with a ttl
 * gets `write time + ttl + grace`, so an entity that stops arriving disappears, while a row that
 * has just aged past its ttl is still readable (as OUTSIDE_MAX_AGE) during the grace. A view
 * without ttl never expires.
 */

/** Minimum grace after the ttl, in ms (1 hour). */
export const MIN_EXPIRY_GRACE_MS = 3_600_000;

/** Grace after the ttl: as long as the ttl itself, at least an hour. */
export function expiryGraceMs(ttlMs: number): number {
  return Math.max(ttlMs, MIN_EXPIRY_GRACE_MS);
}

/** Absolute expiry (epoch ms) for a row of a view with `ttlMs` written at `nowMs`; undefined = never. */
export function expireAtMs(ttlMs: number, nowMs: number): number | undefined {
  return ttlMs > 0 ? nowMs + ttlMs + expiryGraceMs(ttlMs) : undefined;
}

/**
 * Expiry for a stored row that has none recorded (written before expiry was tracked), derived
 * from its event time: `event time + ttl + grace`. At most what a write at that event time
 * would have asked for; such a row is past its ttl (OUTSIDE_MAX_AGE) before it goes.
 */
export function expireAtFromEventMs(ttlMs: number, eventMs: number): number | undefined {
  return ttlMs > 0 ? eventMs + ttlMs + expiryGraceMs(ttlMs) : undefined;
}
