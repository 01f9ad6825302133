/**
 * Names of entities, join keys, sources, views, features and services. They end up as SQL
 * identifiers, Redis key parts and proto field values, so they are restricted to a safe
 * alphabet at validation time (and SQL still quotes them through one function).
 */
export const NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

export function isValidName(s: string): boolean {
  return NAME_PATTERN.test(s);
}
