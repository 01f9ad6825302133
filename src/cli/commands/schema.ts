/** `pitstop schema`: print the JSON Schema of definition files (for editors; committed as docs/definitions.schema.json). */
import { definitionsJsonSchema } from '../../definitions/schema.ts';
import type { Command } from '../command.ts';

export const schemaCommand: Command = {
  name: 'schema',
  summary: 'Print the JSON Schema of definition files (docs/definitions.schema.json).',
  usage: '',
  options: {},
  async run(ctx) {
    ctx.stdout.write(`${JSON.stringify(definitionsJsonSchema(), null, 2)}\n`);
    return 0;
  },
};
