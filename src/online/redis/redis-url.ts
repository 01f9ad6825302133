/**
 * Redis URLs as pitstop takes them (`online_store.url`), read the same way for its own read
 * connections (read-connection.ts) and for ioredis:
 * - `redis://[[user]:password@]host[:port][/db]`, and `rediss://` for TLS;
 * - `unix://[[user]:password@]/path/to/redis.sock[?db=N]`: a Unix domain socket, spelled as
 *   redis-py spells it. For a Redis on the same host kept off the network (measured no faster
 *   than loopback TCP here: docs/online.md#redis-over-a-unix-socket).
 * A URL with anything else (another protocol, ioredis options in a query string) is not one of
 * these: the caller says so rather than ignore a part of it.
 */
import { Redis, type RedisOptions } from 'ioredis';

export interface RedisEndpoint {
  /** TCP host and port (unused for a socket). */
  host: string;
  port: number;
  /** The Unix socket's path, or '' for TCP. */
  path: string;
  tls: boolean;
  username: string;
  password: string;
  db: number;
}

/** unix://[user[:password]@]/abs/path[?db=N]; WHATWG URLs cannot hold credentials with no host, so by hand. */
const UNIX_URL = /^unix:\/\/(?:([^:@/]*)(?::([^@/]*))?@)?(\/[^?#]+)(?:\?db=(\d+))?$/;

/** The URL's parts, or null when it is not one pitstop reads (see the module comment). */
export function parseRedisUrl(url: string): RedisEndpoint | null {
  if (url.startsWith('unix:')) {
    const m = UNIX_URL.exec(url);
    if (!m) return null;
    const db = m[4] === undefined ? 0 : Number(m[4]);
    const creds = decodeCredentials(m[1] ?? '', m[2] ?? '');
    if (creds === null || !Number.isSafeInteger(db)) return null;
    return { host: '', port: 0, path: m[3], tls: false, ...creds, db };
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return null;
  // Options in a query string (ioredis has some) would be silently ignored here: refuse them.
  if (u.search !== '' || u.hash !== '') return null;
  let db = 0;
  if (u.pathname !== '' && u.pathname !== '/') {
    const m = /^\/(\d+)$/.exec(u.pathname);
    if (!m) return null;
    db = Number(m[1]);
    if (!Number.isSafeInteger(db)) return null;
  }
  const port = u.port === '' ? 6379 : Number(u.port);
  const creds = decodeCredentials(u.username, u.password);
  if (creds === null) return null;
  // WHATWG URLs keep the brackets of an IPv6 host; net.connect wants the bare address.
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost';
  return { host, port, path: '', tls: u.protocol === 'rediss:', ...creds, db };
}

function decodeCredentials(username: string, password: string): { username: string; password: string } | null {
  try {
    return { username: decodeURIComponent(username), password: decodeURIComponent(password) };
  } catch {
    return null;
  }
}

/** `host:port` (brackets around an IPv6 host), or the socket's path: for messages. */
export function endpointName(e: RedisEndpoint): string {
  if (e.path !== '') return e.path;
  return `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/**
 * An ioredis client for `url`: given the URL itself (ioredis reads redis:// and rediss://), or
 * for a unix:// URL the options it means (ioredis takes a socket as a bare path, not a URL).
 */
export function ioredisClient(url: string, options: RedisOptions): Redis {
  const e = url.startsWith('unix:') ? parseRedisUrl(url) : null;
  if (e === null) return new Redis(url, options);
  return new Redis({ ...options, path: e.path, db: e.db, ...(e.username !== '' ? { username: e.username } : {}), ...(e.password !== '' ? { password: e.password } : {}) });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*):[^@/]*@/, '//$1:***@');
}
