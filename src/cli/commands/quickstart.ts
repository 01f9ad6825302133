/**
 * `pitstop quickstart` (what `npm start` runs): on the example repository, generate the source
 * data when it is missing, validate, apply, materialize into the online store, print next steps,
 * then serve gRPC + HTTP in this process (one worker, the embedded store unless configured
 * otherwise) until Ctrl-C / SIGTERM. `--no-serve` stops after materializing. Needs no Redis or
 * Docker.
 */
import path from 'node:path';
import { generateExampleData, missingExampleTables } from '../../app/example.ts';
import { withRegistryWorkflow } from '../../app/registry.ts';
import { loadConfig } from '../../config/load.ts';
import { formatPlan } from '../../registry/diff.ts';
import { applyRepository } from '../../registry/workflow.ts';
import type { Command } from '../command.ts';
import { quickstartMaterialize } from './materialize.ts';
import { serveInProcess, type ServingInfo } from './serve.ts';

/** The ready block: where it serves and requests to paste. */
function servingHelp(info: ServingInfo): string[] {
  // A wildcard listen address is reached through loopback.
  const host = info.host === '0.0.0.0' || info.host === '::' || info.host === '' ? '127.0.0.1' : info.host;
  const http = `http://${host}:${info.httpPort}`;
  const lookup = '{"features":["driver_stats:rating","driver_stats:completed_trips","driver_embedding:embedding"],"entities":{"driver_id":[1,2]}}';
  const grpcLookup = '{"features":{"val":["driver_stats:rating"]},"entities":{"driver_id":{"val":[{"int64_val":"1"}]}}}';
  return [
    `Serving on gRPC ${host}:${info.grpcPort} and HTTP ${host}:${info.httpPort} (online store ${info.storeType}); Ctrl-C stops.`,
    '  HTTP lookup:',
    `    curl -s ${http}/v1/get-online-features -H 'content-type: application/json' -d '${lookup}'`,
    `  gRPC (server reflection is on; or the typed client in src/client/client.ts):`,
    `    grpcurl -plaintext -d '${grpcLookup}' ${host}:${info.grpcPort} pitstop.serving.v1.ServingService/GetOnlineFeatures`,
    `  Also: GET ${http}/v1/feature-services, ${http}/readyz, ${http}/metrics`,
  ];
}

export const quickstartCommand: Command = {
  name: 'quickstart',
  summary: 'Generate example data if missing, validate, apply, materialize, then serve until Ctrl-C (npm start).',
  usage: '[--repo DIR] [--no-serve] [--grpc-port PORT] [--http-port PORT]',
  options: {
    'no-serve': { type: 'boolean' },
    'grpc-port': { type: 'string' },
    'http-port': { type: 'string' },
  },
  async run(ctx, args) {
    const say = (s: string) => ctx.stdout.write(`${s}\n`);
    const env = { ...ctx.env };
    if (typeof args.values['grpc-port'] === 'string') env.PITSTOP_GRPC_PORT = args.values['grpc-port'];
    if (typeof args.values['http-port'] === 'string') env.PITSTOP_HTTP_PORT = args.values['http-port'];
    // Read here so a bad port fails before any work.
    const config = await loadConfig(ctx.repoDir, env);

    const dataDir = path.join(config.repoDir, 'data');
    if (missingExampleTables(dataDir).length > 0) {
      say(`1/2 Generating example data under ${dataDir} ...`);
      // Data that ends now, so the online lookups below show fresh values (statuses PRESENT) before the ttls pass.
      const tables = await generateExampleData({ outDir: dataDir, endTime: new Date() });
      say(`    ${tables.map((t) => `${t.table} (${t.rows} rows)`).join(', ')}`);
    } else {
      say(`1/2 Example data present under ${dataDir}.`);
    }

    say('2/2 Validating and applying the definitions ...');
    const result = await withRegistryWorkflow(config, applyRepository);
    say(formatPlan(result.plan).trimEnd().replace(/^/gm, '    '));
    say(result.applied ? `    Applied registry version ${result.applied.version}.` : `    Registry unchanged at version ${result.previous?.version}.`);
    await quickstartMaterialize(ctx, say);

    say('');
    say('Next steps:');
    say('  npx pitstop registry show          # what is registered');
    say('  npx pitstop registry history       # every applied version');
    say('  npx pitstop online get --entity driver_id=1 --features driver_stats:rating,driver_embedding:embedding');
    say('  edit definitions/*.yaml, then npx pitstop plan && npx pitstop apply');
    if (args.values['no-serve'] === true) {
      say('  npx pitstop serve                  # gRPC + HTTP serving');
      return 0;
    }
    say('');
    return serveInProcess(ctx, { env, logPrefix: 'pitstop quickstart', onListening: (info) => say(servingHelp(info).join('\n')) });
  },
};
