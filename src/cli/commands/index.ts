/** Every CLI command, in the order `pitstop help` lists them. */
import type { Command } from '../command.ts';
import { applyCommand } from './apply.ts';
import { exampleGenerateCommand } from './example-generate.ts';
import { explainHistoricalCommand } from './explain.ts';
import { historicalCommand } from './historical.ts';
import { materializeOfflineCommand } from './materialize-offline.ts';
import { planCommand } from './plan.ts';
import { quickstartCommand } from './quickstart.ts';
import { registryHistoryCommand } from './registry-history.ts';
import { registryShowCommand } from './registry-show.ts';
import { schemaCommand } from './schema.ts';
import { serveCommand } from './serve.ts';
import { validateCommand } from './validate.ts';
import { materializeCommand } from './materialize.ts';
import { materializeIncrementalCommand } from './materialize-incremental.ts';
import { pushCommand } from './push.ts';
import { onlineGetCommand } from './online-get.ts';
import { consistencyCommand } from './consistency.ts';

export const COMMANDS: readonly Command[] = [
  // --- definitions and registry (foundation) ---
  quickstartCommand,
  validateCommand,
  planCommand,
  applyCommand,
  registryHistoryCommand,
  registryShowCommand,
  schemaCommand,
  exampleGenerateCommand,
  // --- offline store ---
  historicalCommand,
  explainHistoricalCommand,
  materializeOfflineCommand,
  // --- online store (online) ---
  materializeCommand,
  materializeIncrementalCommand,
  pushCommand,
  onlineGetCommand,
  // --- serving ---
  serveCommand,
  // --- online/offline consistency ---
  consistencyCommand,
];
