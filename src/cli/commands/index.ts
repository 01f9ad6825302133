/** Every CLI command, in the order `pitstop help` lists them. */
import type { Command } from '../command.ts';

export const COMMANDS: readonly Command[] = [
];
