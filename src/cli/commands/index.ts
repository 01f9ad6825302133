/** Every CLI command, in the order `pitstop help` lists them. */
import type { Command } from '../command.ts';
import { serveCommand } from './serve.ts';

export const COMMANDS: readonly Command[] = [
  serveCommand,
];
