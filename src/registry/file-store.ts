/**
 * The embedded registry store: one immutable JSON file per registry version plus one small file
 * per view version's materialization watermark, all under the registry directory:
 *
 *   versions/000001.json      immutable snapshots, never rewritten or deleted
 *   watermarks/<view>@<v>     epoch ms, replaced atomically (temp + rename)
 *   tmp/                      temp files; a crash may leave some behind, they are never read
 *
 * Publishing a version writes the snapshot to a temp file, fsyncs it, then hard-links it to its
 * final name. link(2) fails when the name exists, so of two writers racing for version N+1
 * exactly one wins and the other gets REGISTRY_CONFLICT; a crash before the link leaves only an
 * unread temp file, so the previous version stays the latest. See docs/registry.md.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, unlink, link } from 'node:fs/promises';
import path from 'node:path';
import { PitstopError } from '../core/errors.ts';
import type { RegistrySnapshot } from '../core/registry-model.ts';
import { snapshotHash } from './snapshot-hash.ts';
import type { RegistryStore, RegistryVersionInfo } from './store.ts';

export interface FileRegistryStoreOptions {
  /**
   * Test hook, called after the temp file is written and synced and before it is published.
   * Tests use it to simulate a crash at the worst moment. Default: none.
   */
  beforePublish?: (tempFile: string) => Promise<void> | void;
}

const VERSION_FILE = /^(\d+)\.json$/;

export class FileRegistryStore implements RegistryStore {
  readonly dir: string;
  private readonly options: FileRegistryStoreOptions;
  /** Verified snapshots by version; safe to cache because version files are immutable. */
  private readonly cache = new Map<number, RegistrySnapshot>();

  /** No I/O here; use `create()`. */
  constructor(dir: string, options: FileRegistryStoreOptions = {}) {
    this.dir = path.resolve(dir);
    this.options = options;
  }

  /** Opens the store; directories are created on the first write, so reading never creates state. */
  static async create(dir: string, options: FileRegistryStoreOptions = {}): Promise<FileRegistryStore> {
    return new FileRegistryStore(dir, options);
  }

  private directoriesMade = false;
  private async makeDirectories(): Promise<void> {
    if (this.directoriesMade) return;
    for (const sub of ['versions', 'watermarks', 'tmp']) await mkdir(path.join(this.dir, sub), { recursive: true });
    this.directoriesMade = true;
  }

  private versionFile(version: number): string {
    return path.join(this.dir, 'versions', `${String(version).padStart(6, '0')}.json`);
  }

  private async versionNumbers(): Promise<number[]> {
    const names = await readdir(path.join(this.dir, 'versions')).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return [] as string[];
      throw e;
    });
    return names
      .map((n) => VERSION_FILE.exec(n))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]))
      .sort((a, b) => a - b);
  }

  async latest(): Promise<RegistrySnapshot | undefined> {
    const versions = await this.versionNumbers();
    return versions.length === 0 ? undefined : this.get(versions[versions.length - 1]);
  }

  async get(version: number): Promise<RegistrySnapshot> {
    const cached = this.cache.get(version);
    if (cached) return cached;
    const file = this.versionFile(version);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PitstopError('REGISTRY_VERSION_NOT_FOUND', `registry version ${version} does not exist in ${this.dir}`);
      }
      throw e;
    }
    let snapshot: RegistrySnapshot;
    try {
      snapshot = JSON.parse(text) as RegistrySnapshot;
    } catch (e) {
      throw new PitstopError('REGISTRY_CORRUPT', `registry version file ${file} is not valid JSON`, { cause: e });
    }
    if (snapshot?.version !== version || snapshotHash(snapshot) !== snapshot.hash) {
      throw new PitstopError('REGISTRY_CORRUPT', `registry version file ${file} fails its content hash check`);
    }
    deepFreeze(snapshot);
    this.cache.set(version, snapshot);
    return snapshot;
  }

  async history(): Promise<RegistryVersionInfo[]> {
    const out: RegistryVersionInfo[] = [];
    for (const v of await this.versionNumbers()) {
      const s = await this.get(v);
      out.push({ version: s.version, hash: s.hash, createdAt: s.createdAt });
    }
    return out;
  }

  async commit(next: RegistrySnapshot): Promise<void> {
    if (!Number.isInteger(next.version) || next.version < 1) {
      throw new PitstopError('INTERNAL', `cannot commit registry version ${next.version}`);
    }
    if (snapshotHash(next) !== next.hash) {
      throw new PitstopError('INTERNAL', `registry version ${next.version} does not carry its own content hash`);
    }
    // The parent must be exactly what the snapshot was compiled on top of.
    const parentHash = next.version === 1 ? null : await this.get(next.version - 1).then(
      (p) => p.hash,
      (e) => {
        if ((e as PitstopError).reason === 'REGISTRY_VERSION_NOT_FOUND') return undefined;
        throw e;
      },
    );
    if (parentHash !== next.parentHash) {
      throw new PitstopError('REGISTRY_CONFLICT', `registry version ${next.version} was compiled on a parent that is not the stored version ${next.version - 1}; re-run plan and apply`);
    }
    const final = this.versionFile(next.version);
    const temp = await this.writeTemp(`${JSON.stringify(next, null, 1)}\n`);
    try {
      await this.options.beforePublish?.(temp);
      try {
        await link(temp, final);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new PitstopError('REGISTRY_CONFLICT', `registry version ${next.version} was written by another apply first; re-run plan and apply`);
        }
        throw e;
      }
      await fsyncDir(path.dirname(final));
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  async getWatermark(view: string, version: number): Promise<number | undefined> {
    try {
      const text = await readFile(this.watermarkFile(view, version), 'utf8');
      const ms = Number(text.trim());
      if (!Number.isFinite(ms)) throw new PitstopError('REGISTRY_CORRUPT', `watermark of ${view}@${version} is not a number`);
      return ms;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  async setWatermark(view: string, version: number, watermarkMs: number): Promise<void> {
    if (!Number.isFinite(watermarkMs)) throw new PitstopError('INTERNAL', `watermark ${watermarkMs} is not a number`);
    const file = this.watermarkFile(view, version);
    const temp = await this.writeTemp(`${watermarkMs}\n`);
    try {
      await rename(temp, file); // atomic replace: readers see the old or the new value, never half
      await fsyncDir(path.dirname(file));
    } catch (e) {
      await unlink(temp).catch(() => undefined);
      throw e;
    }
  }

  async close(): Promise<void> {
    this.cache.clear();
  }

  private watermarkFile(view: string, version: number): string {
    // Names are validated at definition time; encoding keeps a bad caller inside the directory anyway.
    return path.join(this.dir, 'watermarks', `${encodeURIComponent(view)}@${version}`);
  }

  private async writeTemp(content: string): Promise<string> {
    await this.makeDirectories();
    const temp = path.join(this.dir, 'tmp', `${process.pid}-${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(temp, 'wx');
    try {
      await fh.writeFile(content, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    return temp;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
