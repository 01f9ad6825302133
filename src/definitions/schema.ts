/**
 * The YAML shape of definition files (`definitions/*.yaml`), as strict zod schemas. This is the
 * one description of the format: validation, the generated JSON Schema
 * (docs/definitions.schema.json, `pitstop schema`) and the TypeScript types all come from here.
 * Cross-object rules (references, duplicates, join key types) live in semantic.ts.
 */
import path from 'node:path';
import { z } from 'zod';
import { parseDuration } from '../core/duration.ts';
import { isFeatureType, isJoinKeyType, JOIN_KEY_TYPES, SCALAR_TYPES } from '../core/feature-types.ts';
import { isValidName } from '../core/names.ts';

const NAME_RULE = 'letters, digits and _, starting with a letter or _, at most 128 characters';

/** A name that is safe as an SQL identifier, Redis key part and file name (see core/names.ts). */
export const NameSchema = z
  .string()
  .refine(isValidName, { error: (iss) => `invalid name ${JSON.stringify(iss.input)}: names are ${NAME_RULE}` })
  .meta({ description: `A name: ${NAME_RULE}.`, pattern: '^[A-Za-z_][A-Za-z0-9_]{0,127}$' });

const featureTypeNames = [...SCALAR_TYPES, ...SCALAR_TYPES.map((t) => `list<${t}>`)];

export const FeatureTypeSchema = z
  .string()
  .refine(isFeatureType, { error: (iss) => `unknown type ${JSON.stringify(iss.input)} (expected one of ${SCALAR_TYPES.join(', ')}, or list<type>)` })
  .meta({ description: 'A feature type; `list<float32>` declares an embedding.', enum: featureTypeNames });

export const JoinKeyTypeSchema = z
  .string()
  .refine(isJoinKeyType, { error: (iss) => `join key type ${JSON.stringify(iss.input)} is not allowed (expected one of ${JOIN_KEY_TYPES.join(', ')})` })
  .meta({ description: 'A join key type.', enum: [...JOIN_KEY_TYPES] });

export const TtlSchema = z
  .union([z.string(), z.number()])
  .refine((v) => parseDuration(v) !== undefined, {
    error: (iss) => `bad ttl ${JSON.stringify(iss.input)}: expected a duration such as 90s, 15m, 2h, 1d, 1h30m, or 0 for unbounded`,
  })
  .meta({ description: 'Max age of a value: 90s, 15m, 2h, 1d, 1w, 1h30m, or seconds as a number; 0 or absent = unbounded.' });

/** A path relative to the repository, never absolute and never leaving it. */
export const RepoPathSchema = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    if (path.isAbsolute(p) || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\')) {
      ctx.addIssue({ code: 'custom', message: `source path ${JSON.stringify(p)} is absolute; paths are relative to the feature repository` });
    } else if (path.posix.normalize(p.replaceAll('\\', '/')).split('/')[0] === '..') {
      ctx.addIssue({ code: 'custom', message: `source path ${JSON.stringify(p)} escapes the feature repository` });
    } else if (/[\0\r\n]/.test(p)) {
      ctx.addIssue({ code: 'custom', message: `source path ${JSON.stringify(p)} contains a control character` });
    }
  })
  .meta({ description: 'Parquet or CSV file(s), relative to the repository root; globs allowed (data/trips/*.parquet).' });

const metadata = {
  description: z.string().optional().meta({ description: 'What this is, for people.' }),
  owner: z.string().optional().meta({ description: 'Who to ask: a team or an email.' }),
  tags: z.record(z.string(), z.string()).optional().meta({ description: 'Free-form string labels.' }),
};

export const JoinKeySchema = z.strictObject({
  name: NameSchema,
  type: JoinKeyTypeSchema,
  description: metadata.description,
});

export const EntitySchema = z.strictObject({
  name: NameSchema,
  join_keys: z.array(JoinKeySchema).min(1, 'an entity needs at least one join key'),
  ...metadata,
});

export const SourceSchema = z.strictObject({
  name: NameSchema,
  path: RepoPathSchema,
  format: z.enum(['parquet', 'csv']).optional().meta({ description: 'Default: from the file extension (.csv is csv, else parquet).' }),
  timestamp_field: NameSchema.meta({ description: 'Column with each row\'s event time (after field_mapping).' }),
  created_timestamp_field: NameSchema.optional().meta({ description: 'Column with each row\'s creation time (after field_mapping); breaks ties of equal event times.' }),
  field_mapping: z.record(NameSchema, NameSchema).optional().meta({ description: 'Renames source columns: { source_column: name }.' }),
  ...metadata,
});

export const FeatureSchema = z.strictObject({
  name: NameSchema,
  type: FeatureTypeSchema,
  expr: z.string().min(1).optional().meta({ description: 'DuckDB SQL expression over the (mapped) source columns; default: the column of the same name.' }),
  ...metadata,
});

export const FeatureViewSchema = z.strictObject({
  name: NameSchema,
  entities: z.array(NameSchema).min(1, 'a feature view needs at least one entity'),
  source: NameSchema,
  ttl: TtlSchema.optional(),
  online: z.boolean().default(true).meta({ description: 'Materialize into the online store; default true.' }),
  retired_versions: z
    .array(z.number().int().positive())
    .optional()
    .meta({ description: 'Older versions to retire: no longer served or retrievable, pins to them are errors. Permanent once applied.' }),
  features: z.array(FeatureSchema).min(1, 'a feature view needs at least one feature'),
  ...metadata,
});

export const FeatureServiceSchema = z.strictObject({
  name: NameSchema,
  features: z
    .array(z.string().meta({ description: 'view:feature (latest version) or view@N:feature (pinned).' }))
    .min(1, 'a feature service needs at least one feature'),
  ...metadata,
});

/** One definitions file. Every section is optional; objects may be split over files freely. */
export const DefinitionsFileSchema = z
  .strictObject({
    entities: z.array(EntitySchema).optional(),
    sources: z.array(SourceSchema).optional(),
    feature_views: z.array(FeatureViewSchema).optional(),
    feature_services: z.array(FeatureServiceSchema).optional(),
  })
  .meta({ title: 'pitstop feature definitions', description: 'One YAML file under a feature repository\'s definitions/ directory.' });

/** The sections of a definitions file and the schema of one item in each. */
export const SECTIONS = {
  entities: EntitySchema,
  sources: SourceSchema,
  feature_views: FeatureViewSchema,
  feature_services: FeatureServiceSchema,
} as const;
export type SectionName = keyof typeof SECTIONS;

export type EntityYaml = z.output<typeof EntitySchema>;
export type SourceYaml = z.output<typeof SourceSchema>;
export type FeatureYaml = z.output<typeof FeatureSchema>;
export type FeatureViewYaml = z.output<typeof FeatureViewSchema>;
export type FeatureServiceYaml = z.output<typeof FeatureServiceSchema>;

/** The JSON Schema for editors (committed as docs/definitions.schema.json). */
export function definitionsJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(DefinitionsFileSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
