/**
 * docker-compose.yml and the Dockerfile cannot run here (no Docker engine), so their content is
 * checked against the code: every pitstop command they run exists and takes the flags given, the
 * files the image copies exist, and both services have health checks.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadCommands } from '../../src/cli/commands/index.ts';

const LOADED = await loadCommands();

const ROOT = path.resolve(import.meta.dirname, '../..');

/** Checks one `pitstop ...` argument list against the command table; returns the command name. */
function checkInvocation(argv: string[]): string {
  const command = LOADED.find((c) => {
    const words = c.name.split(' ');
    return words.every((w, i) => argv[i] === w);
  });
  if (!command) throw new Error(`no pitstop command for "${argv.join(' ')}"`);
  const rest = argv.slice(command.name.split(' ').length);
  parseArgs({ args: rest, options: { ...command.options, repo: { type: 'string' } }, allowPositionals: command.positionals ?? false, strict: true });
  return command.name;
}

describe('docker-compose.yml', () => {
  const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));

  it('runs Redis and pitstop, each with a health check, pitstop after Redis is healthy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['pitstop', 'redis']);
    expect(compose.services.redis.healthcheck.test).toContain('redis-cli');
    expect(compose.services.pitstop.healthcheck.test.join(' ')).toContain('/readyz');
    expect(compose.services.pitstop.depends_on.redis.condition).toBe('service_healthy');
    expect(compose.services.pitstop.environment.PITSTOP_REDIS_URL).toBe('redis://redis:6379');
  });

  it('every pitstop command in the entrypoint exists and accepts its flags', () => {
    const script: string = compose.services.pitstop.entrypoint.at(-1);
    const invocations = script.split('&&').map((part) => part.trim().replace(/^exec\s+/, '').split(/\s+/));
    const names = invocations.map((words) => {
      expect(words.slice(0, 2)).toEqual(['node', 'bin/pitstop.mjs']);
      return checkInvocation(words.slice(2));
    });
    expect(names.at(-1)).toBe('serve');
  });
});

describe('Dockerfile', () => {
  const text = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('copies files that exist and runs a real command', () => {
    const copied = [...text.matchAll(/^COPY\s+(.+)\s+\S+$/gm)].flatMap((m) => m[1].split(/\s+/));
    expect(copied.length).toBeGreaterThan(3);
    for (const f of copied) expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    const cmd = JSON.parse(/^CMD\s+(\[.*\])$/m.exec(text)![1]) as string[];
    expect(checkInvocation(cmd)).toBe('serve');
    expect(text).toMatch(/^HEALTHCHECK .*readyz/ms);
  });
});
