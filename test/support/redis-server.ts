/**
 * Test harness: real redis-server processes on free loopback ports, in temporary directories,
 * without persistence. Never touches a Redis on 6379. Every server started here is killed when
 * the test process exits, even if a test forgets to stop it.
 *
 *   const redis = await startRedis();          // { url, port, stop(), restart() }
 *   const cluster = await startRedisCluster(3); // { nodes, seeds, stop() }
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const p of live) p.kill('SIGKILL');
});

export interface RedisServer {
  url: string;
  host: string;
  port: number;
  /** Its Unix socket (`startRedis({ unixSocket: true })`; it listens on TCP too). */
  socketPath?: string;
  /** Stop the server (SIGTERM, waits for exit). Safe to call twice. */
  stop(): Promise<void>;
  /** Start it again on the same port (after `stop`), empty. */
  restart(): Promise<void>;
  /** Freeze the process (SIGSTOP): connections stay open but nothing answers, like a hung server. */
  pause(): void;
  /** Thaw it (SIGCONT). */
  resume(): void;
}

export interface RedisCluster {
  nodes: { host: string; port: number }[];
  /** `host:port,host:port,...`, the form PITSTOP_REDIS_CLUSTER_NODES takes. */
  seeds: string;
  stop(): Promise<void>;
  /** Freeze / thaw node i (SIGSTOP / SIGCONT), to test a hung cluster node. */
  pauseNode(i: number): void;
  resumeNode(i: number): void;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A free port whose cluster bus port (+10000) is free too. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    if ((await portFree(port)) && (await portFree(port + 10000))) return port;
  }
  throw new Error('no free port found');
}

/** Sends one inline command and resolves with the reply text (or rejects on connect error). */
export function rawCommand(port: number, command: string, timeoutMs = 500): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('timeout'));
    }, timeoutMs);
    sock.on('connect', () => sock.write(`${command}\r\n`));
    sock.on('data', (d) => {
      data += d.toString();
      if (data.endsWith('\r\n') && (data[0] !== '$' || data.split('\r\n').length >= 3)) {
        clearTimeout(timer);
        sock.destroy();
        resolve(data);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function spawnServer(port: number, dir: string, extra: string[]): ChildProcess {
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--protected-mode', 'no', '--loglevel', 'warning', ...extra],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGCONT'); // in case a test left it paused
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(t);
}

/** Start a standalone redis-server on a free port (or `port`) and wait until it answers PING. */
export async function startRedis(options: { port?: number; args?: string[]; unixSocket?: boolean } = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-redis-'));
  const socketPath = options.unixSocket ? path.join(dir, 'redis.sock') : undefined;
  const socketArgs = socketPath ? ['--unixsocket', socketPath, '--unixsocketperm', '700'] : [];
  let child: ChildProcess | undefined;
  const start = async () => {
    mkdirSync(dir, { recursive: true });
    child = spawnServer(port, dir, [...socketArgs, ...(options.args ?? [])]);
    const c = child;
    await waitFor(async () => {
      if (c.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${c.exitCode}`);
      // Up: it answers (NOAUTH when started with --requirepass).
      const pong = await rawCommand(port, 'PING');
      return pong.startsWith('+PONG') || pong.startsWith('-NOAUTH');
    }, `redis-server on port ${port}`);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    host: '127.0.0.1',
    port,
    socketPath,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
    restart: async () => {
      await stopChild(child);
      await start();
    },
    pause: () => void child?.kill('SIGSTOP'),
    resume: () => void child?.kill('SIGCONT'),
  };
}

/** Start `masters` cluster-enabled servers on loopback, join them into a cluster, wait for cluster_state:ok. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const children: ChildProcess[] = [];
  const nodes: { host: string; port: number }[] = [];
  const dirs: string[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort();
      const dir = mkdtempSync(path.join(os.tmpdir(), 'pitstop-redis-cluster-'));
      dirs.push(dir);
      children.push(spawnServer(port, dir, ['--cluster-enabled', 'yes', '--cluster-config-file', path.join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000']));
      nodes.push({ host: '127.0.0.1', port });
    }
    for (const n of nodes) await waitFor(async () => (await rawCommand(n.port, 'PING')).startsWith('+PONG'), `cluster node ${n.port}`);
    await run('redis-cli', ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 });
    for (const n of nodes) {
      await waitFor(async () => (await rawCommand(n.port, 'CLUSTER INFO')).includes('cluster_state:ok'), `cluster_state:ok on ${n.port}`, 20_000);
    }
  } catch (e) {
    await Promise.all(children.map(stopChild));
    throw e;
  }
  return {
    nodes,
    seeds: nodes.map((n) => `${n.host}:${n.port}`).join(','),
    stop: async () => {
      for (const c of children) c.kill('SIGCONT'); // a frozen process cannot handle SIGTERM
      await Promise.all(children.map(stopChild));
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
    pauseNode: (i) => void children[i].kill('SIGSTOP'),
    resumeNode: (i) => void children[i].kill('SIGCONT'),
  };
}
