/**
 * The pitstop CLI entry point. `main(argv)` returns the exit code, so tests run commands in
 * process; bin/pitstop.mjs is a thin wrapper around it.
 *
 * Exit codes: 0 success, 1 a command failed (bad definitions, bad input, store errors),
 * 2 usage error.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isPitstopError } from '../core/errors.ts';
import type { CliIO } from './command.ts';
import { COMMANDS, loadCommands, type CommandEntry } from './commands/index.ts';

const GLOBAL_OPTIONS = {
  repo: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export async function main(argv: readonly string[], io: Partial<CliIO> = {}): Promise<number> {
  const full: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    interactive: io.interactive ?? Boolean((process.stderr as { isTTY?: boolean }).isTTY),
  };
  const { entry, rest } = findCommand(argv);
  if (!entry) {
    const asked = argv[0] && !argv[0].startsWith('-') ? argv[0] : undefined;
    if (asked && asked !== 'help') full.stderr.write(`pitstop: unknown command "${asked}"\n\n`);
    full.stdout.write(await helpText());
    return asked && asked !== 'help' ? 2 : 0;
  }
  const command = await entry.load();
  let parsed;
  try {
    parsed = parseArgs({
      args: [...rest],
      options: { ...GLOBAL_OPTIONS, ...command.options },
      allowPositionals: command.positionals ?? false,
      strict: true,
    });
  } catch (e) {
    full.stderr.write(`pitstop ${command.name}: ${(e as Error).message}\nusage: pitstop ${command.name} ${command.usage}\n`);
    return 2;
  }
  if (parsed.values.help) {
    full.stdout.write(`pitstop ${command.name} ${command.usage}\n\n${command.summary}\n`);
    return 0;
  }
  const repoDir = path.resolve(typeof parsed.values.repo === 'string' ? parsed.values.repo : '.');
  try {
    return await command.run({ ...full, repoDir }, { values: parsed.values, positionals: parsed.positionals });
  } catch (e) {
    if (isPitstopError(e)) {
      full.stderr.write(`pitstop ${command.name}: error ${e.reason}: ${e.describe()}\n`);
      return e.reason === 'USAGE' ? 2 : 1;
    }
    full.stderr.write(`pitstop ${command.name}: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

function findCommand(argv: readonly string[]): { entry?: CommandEntry; rest: readonly string[] } {
  // The command's words come first; the longest match wins (`registry show` before `registry`).
  for (const n of [2, 1]) {
    const words = argv.slice(0, n);
    if (words.length < n || words.some((w) => w.startsWith('-'))) continue;
    const entry = COMMANDS.find((c) => c.name === words.join(' '));
    if (entry) return { entry, rest: argv.slice(n) };
  }
  return { rest: argv };
}

export async function helpText(): Promise<string> {
  const commands = await loadCommands();
  const width = Math.max(...commands.map((c) => c.name.length), 8);
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'pitstop: a low-latency feature store',
    '',
    'usage: pitstop <command> [--repo DIR] [options]',
    '',
    'commands:',
    ...lines,
    '',
    'Every command takes --repo DIR (default: the current directory) and --help.',
    '',
  ].join('\n');
}
