/**
 * What a CLI command is. Each command lives in its own file under commands/ and is listed in
 * commands/index.ts; main.ts parses `--repo` and the command's own options with node:util.
 */
import type { ParseArgsConfig } from 'node:util';

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** True when stderr is a terminal (progress bars); false in tests and pipes. */
  interactive: boolean;
}

export interface CommandContext extends CliIO {
  /** Absolute path of the feature repository (`--repo`, default the current directory). */
  repoDir: string;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  positionals: string[];
}

export interface Command {
  /** One or two words, e.g. `apply` or `registry history`. */
  name: string;
  summary: string;
  /** Usage line after `pitstop <name>`, e.g. `[--version N]`. */
  usage: string;
  options: NonNullable<ParseArgsConfig['options']>;
  /** Accepts positional arguments (e.g. view names). */
  positionals?: boolean;
  /** Returns the process exit code. Throw PitstopError for failures. */
  run(ctx: CommandContext, args: ParsedArgs): Promise<number>;
}
