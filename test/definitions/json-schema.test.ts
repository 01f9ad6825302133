import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { definitionsJsonSchema } from '../../src/definitions/schema.ts';
import { ROOT, runCli } from '../cli/helpers.ts';

describe('generated JSON Schema', () => {
  it('docs/definitions.schema.json is up to date (regenerate: npx pitstop schema > docs/definitions.schema.json)', () => {
    const committed = JSON.parse(readFileSync(path.join(ROOT, 'docs/definitions.schema.json'), 'utf8'));
    expect(committed).toEqual(definitionsJsonSchema());
  });

  it('is strict and knows the feature types', () => {
    const schema = definitionsJsonSchema() as any;
    expect(schema.additionalProperties).toBe(false);
    const view = schema.properties.feature_views.items;
    expect(view.additionalProperties).toBe(false);
    expect(view.required).toEqual(expect.arrayContaining(['name', 'entities', 'source', 'features']));
    expect(view.properties.features.items.properties.type.enum).toContain('list<float32>');
  });

  it('pitstop schema prints it', async () => {
    const run = await runCli(['schema']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual(definitionsJsonSchema());
  });
});
