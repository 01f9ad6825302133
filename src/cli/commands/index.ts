/**
 * Every CLI command, in the order `pitstop help` lists them, each imported only when it runs.
 * A command's module pulls in its own stack (DuckDB and Arrow for the offline commands, LMDB for
 * the embedded store, the definitions compiler for validate/plan/apply), so importing all of them
 * up front would leave every one in the heap of every process: `pitstop serve` held 24 MB of JS
 * heap after start-up that way, 15 MB now (a long-lived server marks its whole heap in every
 * mark-compact). `pitstop help` loads them all for their summaries.
 */
import type { Command } from '../command.ts';

export interface CommandEntry {
  /** The command's words, as `Command.name` (a test checks they match). */
  readonly name: string;
  load(): Promise<Command>;
}

const entry = (name: string, load: () => Promise<Command>): CommandEntry => ({ name, load });

export const COMMANDS: readonly CommandEntry[] = [
  // --- definitions and registry (foundation) ---
  entry('quickstart', async () => (await import('./quickstart.ts')).quickstartCommand),
  entry('validate', async () => (await import('./validate.ts')).validateCommand),
  entry('plan', async () => (await import('./plan.ts')).planCommand),
  entry('apply', async () => (await import('./apply.ts')).applyCommand),
  entry('registry history', async () => (await import('./registry-history.ts')).registryHistoryCommand),
  entry('registry show', async () => (await import('./registry-show.ts')).registryShowCommand),
  entry('schema', async () => (await import('./schema.ts')).schemaCommand),
  entry('example generate', async () => (await import('./example-generate.ts')).exampleGenerateCommand),
  // --- offline store ---
  entry('historical', async () => (await import('./historical.ts')).historicalCommand),
  entry('explain historical', async () => (await import('./explain.ts')).explainHistoricalCommand),
  entry('materialize-offline', async () => (await import('./materialize-offline.ts')).materializeOfflineCommand),
  // --- online store (online) ---
  entry('materialize', async () => (await import('./materialize.ts')).materializeCommand),
  entry('materialize-incremental', async () => (await import('./materialize-incremental.ts')).materializeIncrementalCommand),
  entry('push', async () => (await import('./push.ts')).pushCommand),
  entry('online get', async () => (await import('./online-get.ts')).onlineGetCommand),
  // --- serving ---
  entry('serve', async () => (await import('./serve.ts')).serveCommand),
  // --- online/offline consistency ---
  entry('consistency', async () => (await import('./consistency.ts')).consistencyCommand),
];

/** Every command, loaded (help text, tests). */
export function loadCommands(): Promise<Command[]> {
  return Promise.all(COMMANDS.map((c) => c.load()));
}
