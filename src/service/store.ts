/**
 * Persistent sandbox records, shared by every backend that has a lifecycle. One JSON file per sandbox under the
 * state directory, written atomically (temp file + rename), so state survives the CLI process and a crash
 * mid-write never leaves a half record. Sandbox names are one namespace across backends: `list` shows them all
 * and `exec NAME` finds the backend from the record.
 */
import { readFileSync, writeFileSync, renameSync, unlinkSync, readdirSync, openSync, closeSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import { dir } from '../core/paths.js';
import type { BackendName, SandboxInfo, SandboxSpec, SandboxStatus } from '../core/types.js';

export interface SandboxRecord extends SandboxInfo {
  spec: SandboxSpec;
  /** Backend-private facts (container id, state directory...). */
  backendData?: Record<string, unknown>;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Names become file names and engine arguments: only a safe alphabet, never `..`, never a leading '-'. */
export function validateSandboxName(name: unknown): string {
  if (typeof name !== 'string' || !NAME_RE.test(name) || name.includes('..')) {
    throw new ValidationError(
      `invalid sandbox name ${JSON.stringify(name)}: use 1-63 letters, digits, '_', '-', '.', starting with a letter or digit`,
    );
  }
  return name;
}

export class SandboxStore {
  readonly root: string;

  constructor(root?: string) {
    this.root = root ?? dir('state', 'sandboxes');
  }

  private file(name: string): string {
    return join(this.root, `${validateSandboxName(name)}.json`);
  }

  get(name: string): SandboxRecord | undefined {
    const f = this.file(name);
    try {
      return JSON.parse(readFileSync(f, 'utf8')) as SandboxRecord;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw e;
    }
  }

  require(name: string): SandboxRecord {
    const r = this.get(name);
    if (!r) throw new NotFoundError(`no sandbox named '${name}'`, { name });
    return r;
  }

  /** Claim a name atomically; ConflictError if a sandbox of that name exists (whatever its backend). */
  reserve(spec: SandboxSpec, backend: BackendName, profile: string): SandboxRecord {
    const f = this.file(spec.name);
    let fd: number;
    try {
      fd = openSync(f, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new ConflictError(`a sandbox named '${spec.name}' already exists`, { name: spec.name });
      }
      throw e;
    }
    const rec: SandboxRecord = {
      name: spec.name, backend, status: 'created', image: spec.image, profile,
      createdAt: new Date().toISOString(), spec,
    };
    writeFileSync(fd, JSON.stringify(rec, null, 2));
    closeSync(fd);
    return rec;
  }

  put(rec: SandboxRecord): void {
    const f = this.file(rec.name);
    const tmp = `${f}.${randomBytes(6).toString('hex')}.tmp`;
    writeFileSync(tmp, JSON.stringify(rec, null, 2), { mode: 0o600 });
    renameSync(tmp, f);
  }

  /** The record of a sandbox that `backend` owns; ConflictError when another backend owns it. */
  requireOwned(name: string, backend: BackendName): SandboxRecord {
    const rec = this.require(validateSandboxName(name));
    if (rec.backend !== backend) {
      throw new ConflictError(`sandbox '${name}' belongs to the ${rec.backend} backend, not ${backend}`, { name, backend: rec.backend });
    }
    return rec;
  }

  /**
   * The sandbox as the backend sees it now: its status is recorded when it changed (a `list` reconciles what the
   * engine or VMM says with what was stored); a record removed meanwhile by another process is answered as it was.
   */
  withStatus(r: SandboxRecord, status: SandboxStatus): SandboxInfo {
    if (status !== r.status) {
      try {
        return toInfo(this.update(r.name, { status }));
      } catch {
        // removed meanwhile by another process
      }
    }
    return toInfo({ ...r, status });
  }

  update(name: string, patch: Partial<SandboxRecord>): SandboxRecord {
    const rec = { ...this.require(name), ...patch };
    this.put(rec);
    return rec;
  }

  delete(name: string): void {
    try {
      unlinkSync(this.file(name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }

  list(backend?: BackendName): SandboxRecord[] {
    if (!existsSync(this.root)) return [];
    const out: SandboxRecord[] = [];
    for (const f of readdirSync(this.root).sort()) {
      if (!f.endsWith('.json')) continue;
      try {
        const r = JSON.parse(readFileSync(join(this.root, f), 'utf8')) as SandboxRecord;
        if (!backend || r.backend === backend) out.push(r);
      } catch {
        // a record being replaced right now; the next listing sees it
      }
    }
    return out;
  }
}

/** The public view of a record (no backend-private data). */
export function toInfo(r: SandboxRecord): SandboxInfo {
  const { spec: _spec, backendData: _bd, ...info } = r;
  return info;
}
