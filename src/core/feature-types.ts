/**
 * Feature value types. A definition writes a scalar name (`int64`) or a list of one
 * (`list<float32>`, which is how an embedding is declared).
 */
export const SCALAR_TYPES = ['int32', 'int64', 'float32', 'float64', 'bool', 'string', 'bytes', 'timestamp'] as const;
export type ScalarType = (typeof SCALAR_TYPES)[number];
export type ListType = `list<${ScalarType}>`;
export type FeatureType = ScalarType | ListType;

/** Join keys may only be of these types (they must compare exactly). */
export const JOIN_KEY_TYPES = ['int32', 'int64', 'string', 'bytes'] as const satisfies readonly ScalarType[];
export type JoinKeyType = (typeof JOIN_KEY_TYPES)[number];

const SCALAR_SET: ReadonlySet<string> = new Set(SCALAR_TYPES);

export function isScalarType(s: string): s is ScalarType {
  return SCALAR_SET.has(s);
}

export function isFeatureType(s: string): s is FeatureType {
  if (isScalarType(s)) return true;
  const m = /^list<([a-z0-9]+)>$/.exec(s);
  return m !== null && isScalarType(m[1]);
}

export function isJoinKeyType(s: string): s is JoinKeyType {
  return (JOIN_KEY_TYPES as readonly string[]).includes(s);
}

/** The element type of a list type, or undefined for a scalar. */
export function listElementType(t: FeatureType): ScalarType | undefined {
  return t.startsWith('list<') ? (t.slice(5, -1) as ScalarType) : undefined;
}

/** The DuckDB SQL type a feature type is stored as offline. */
export function duckdbType(t: FeatureType): string {
  const elem = listElementType(t);
  if (elem) return `${duckdbType(elem)}[]`;
  switch (t as ScalarType) {
    case 'int32': return 'INTEGER';
    case 'int64': return 'BIGINT';
    case 'float32': return 'FLOAT';
    case 'float64': return 'DOUBLE';
    case 'bool': return 'BOOLEAN';
    case 'string': return 'VARCHAR';
    case 'bytes': return 'BLOB';
    case 'timestamp': return 'TIMESTAMPTZ';
  }
  throw new Error(`unreachable feature type ${t}`);
}
