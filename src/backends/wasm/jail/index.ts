/**
 * The jail of the `wasm` backend's workers: decides, once per process, which layers this machine allows, and
 * builds the command line that starts one worker inside them.
 *
 * Linux: prlimit(1) (rlimits) wraps bubblewrap (namespaces, minimal read-only filesystem) which installs the
 * seccomp filter and executes node. macOS: sandbox-exec with a Seatbelt profile. Elsewhere, or when a layer is
 * refused (no user namespaces, seccomp refused, no prlimit), the worker still starts without it and the missing
 * layer is reported with its reason, never skipped silently.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { IsolationReport, Mount } from '../../../core/types.js';
import { bwrapArgs } from './bwrap.js';
import { CgroupLeaf, probeCgroup, type CgroupProbe } from './memory.js';
import { nodeFiles, type NodeFiles } from './libs.js';
import { DEFAULT_RLIMITS, prlimitArgs, type WorkerRlimits } from './rlimits.js';
import { seatbeltProfile } from './seatbelt.js';
import { buildSeccompFilter, deniedSyscalls, isSeccompSupported } from './seccomp.js';

/** The stdio slot of node's IPC channel in the worker (NODE_CHANNEL_FD). */
export const IPC_FD = 3;
/** The stdio slot from which bubblewrap reads the seccomp program. */
export const SECCOMP_FD = 4;

export interface JailOptions {
  /** Use no jail at all (tests of the pool logic, debugging). Reported as missing layers. */
  disable?: boolean;
  /** Skip only the seccomp layer. */
  noSeccomp?: boolean;
  rlimits?: WorkerRlimits;
  /** A delegated cgroup v2 directory for memory caps (default: probe this process's own cgroup). */
  cgroupParent?: string;
  /** Override binary locations (tests). */
  bwrapPath?: string;
  prlimitPath?: string;
}

export interface JailPlan {
  kind: 'bwrap' | 'seatbelt' | 'none';
  seccomp: boolean;
  rlimits: boolean;
  cgroup: CgroupProbe;
  report: IsolationReport;
  /** Facts for availability()/status. */
  details: Record<string, unknown>;
}

/** What one worker needs from the host filesystem, beyond node itself. */
export interface WorkerLaunch {
  /** The worker script and its arguments (after node's own flags). */
  script: string;
  scriptArgs: string[];
  nodeFlags: string[];
  /** Read-only host paths (the package's dist/, node_modules/, the snapshot cache...). */
  readOnly: string[];
  /** Read-write host paths (only the snapshot maker's cache directory). */
  readWrite?: string[];
  mounts: Mount[];
  /** Name for the worker's cgroup leaf (unique per worker). */
  name: string;
}

export interface LaunchCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  /** Bytes to write to stdio slot SECCOMP_FD, then close. */
  seccomp?: Buffer;
  cgroup?: CgroupLeaf;
}

function which(name: string, fallbacks: string[] = []): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const p of [...fallbacks, ...dirs.map((d) => join(d, name))]) {
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

export class Jail {
  private plan?: Promise<JailPlan>;
  private nodeCache?: NodeFiles;

  constructor(private readonly opts: JailOptions = {}) {}

  /** node and its libraries (Linux; found on first use, since it runs ldd). */
  private get node(): NodeFiles | undefined {
    if (process.platform !== 'linux' || this.opts.disable) return undefined;
    this.nodeCache ??= nodeFiles();
    return this.nodeCache;
  }

  /** The layers this machine allows, probed once by starting node inside them. */
  probe(): Promise<JailPlan> {
    this.plan ??= this.decide();
    return this.plan;
  }

  private async decide(): Promise<JailPlan> {
    const missing: { layer: string; reason: string }[] = [];
    const layers = ['wasm'];
    const details: Record<string, unknown> = { platform: process.platform, node: process.execPath };
    const cgroup = this.opts.disable ? { available: false, reason: 'the jail is disabled' } : probeCgroup(this.opts.cgroupParent);
    const memoryLayer = (): void => {
      if (cgroup.available) layers.push('memory-cgroup');
      else {
        missing.push({ layer: 'memory-cgroup', reason: cgroup.reason ?? 'unavailable' });
        layers.push('memory-watch');
      }
    };
    details.cgroup = cgroup.available ? cgroup.parent : cgroup.reason;

    if (this.opts.disable) {
      for (const l of ['namespaces', 'seccomp', 'rlimits']) missing.push({ layer: l, reason: 'the jail is disabled by configuration' });
      memoryLayer();
      return { kind: 'none', seccomp: false, rlimits: false, cgroup, report: { layers, missing }, details };
    }

    if (process.platform === 'darwin') {
      const sbx = which('sandbox-exec', ['/usr/bin/sandbox-exec']);
      let kind: JailPlan['kind'] = 'none';
      if (!sbx) missing.push({ layer: 'seatbelt', reason: 'sandbox-exec was not found' });
      else {
        const r = await tryStart(sbx, ['-p', seatbeltProfile({ node: process.execPath, readOnly: [] }), process.execPath, '-e', '0'], {});
        if (r.ok) { kind = 'seatbelt'; layers.push('seatbelt'); } else missing.push({ layer: 'seatbelt', reason: r.reason });
      }
      missing.push({ layer: 'namespaces', reason: 'Linux namespaces do not exist on macOS' });
      missing.push({ layer: 'seccomp', reason: 'seccomp does not exist on macOS' });
      missing.push({ layer: 'rlimits', reason: 'prlimit(1) is Linux-only' });
      memoryLayer();
      return { kind, seccomp: false, rlimits: false, cgroup, report: { layers, missing }, details };
    }

    const prlimit = process.platform === 'linux' ? (this.opts.prlimitPath ?? which('prlimit', ['/usr/bin/prlimit'])) : undefined;
    const bwrap = process.platform === 'linux' ? (this.opts.bwrapPath ?? which('bwrap', ['/usr/bin/bwrap'])) : undefined;
    let rlimits = false;
    if (prlimit) {
      const r = await tryStart(prlimit, [...prlimitArgs(this.rlimits()), process.execPath, '-e', '0'], {});
      if (r.ok) rlimits = true;
      else missing.push({ layer: 'rlimits', reason: `prlimit failed: ${r.reason}` });
    } else {
      missing.push({ layer: 'rlimits', reason: process.platform === 'linux' ? 'prlimit (util-linux) was not found' : `no rlimit tool on ${process.platform}` });
    }
    details.prlimit = prlimit ?? null;
    details.bwrap = bwrap ?? null;
    details.nodeFiles = this.node?.method;

    let kind: JailPlan['kind'] = 'none';
    let seccomp = false;
    if (!bwrap) {
      missing.push({ layer: 'namespaces', reason: process.platform === 'linux' ? 'bubblewrap (bwrap) was not found' : `no namespace jail on ${process.platform}` });
    } else {
      const base = { readOnly: this.node ? [...this.node.files, ...this.node.dirs] : [process.execPath], env: {}, command: [process.execPath, '-e', '0'] };
      const wantSeccomp = !this.opts.noSeccomp && isSeccompSupported();
      if (wantSeccomp) {
        const r = await tryStart(bwrap, bwrapArgs({ ...base, seccompFd: SECCOMP_FD }), {}, buildSeccompFilter());
        if (r.ok) { kind = 'bwrap'; seccomp = true; } else details.seccompError = r.reason;
      }
      if (kind === 'none') {
        const r = await tryStart(bwrap, bwrapArgs(base), {});
        if (r.ok) kind = 'bwrap';
        else missing.push({ layer: 'namespaces', reason: `bubblewrap cannot create the jail here: ${r.reason}` });
      }
      if (kind === 'bwrap') layers.push('namespaces');
      if (seccomp) {
        layers.push('seccomp');
        details.seccompDenied = deniedSyscalls();
      } else {
        const why = this.opts.noSeccomp ? 'disabled by configuration'
          : !isSeccompSupported() ? `no seccomp table for ${process.platform}/${process.arch}`
          : kind === 'bwrap' ? `bubblewrap refused the filter: ${String(details.seccompError)}`
          : 'it is installed by bubblewrap, which is unavailable';
        missing.push({ layer: 'seccomp', reason: why });
      }
    }
    if (rlimits) layers.push('rlimits');
    memoryLayer();
    return { kind, seccomp, rlimits, cgroup, report: { layers, missing }, details };
  }

  private rlimits(): WorkerRlimits {
    return this.opts.rlimits ?? DEFAULT_RLIMITS;
  }

  private prlimitPath(): string | undefined {
    return this.opts.prlimitPath ?? which('prlimit', ['/usr/bin/prlimit']);
  }

  /** The command that starts one worker inside the jail. */
  async command(w: WorkerLaunch): Promise<LaunchCommand> {
    const plan = await this.probe();
    const nodeArgv = [process.execPath, ...w.nodeFlags, w.script, ...w.scriptArgs];
    let file: string;
    let args: string[];
    let seccomp: Buffer | undefined;
    if (plan.kind === 'bwrap') {
      const readOnly = [...(this.node ? [...this.node.files, ...this.node.dirs] : [process.execPath]), ...w.readOnly];
      const env = { NODE_CHANNEL_FD: String(IPC_FD), NODE_CHANNEL_SERIALIZATION_MODE: 'advanced' };
      args = bwrapArgs({ readOnly, readWrite: w.readWrite, mounts: w.mounts, env, command: nodeArgv, ...(plan.seccomp ? { seccompFd: SECCOMP_FD } : {}) });
      file = this.opts.bwrapPath ?? which('bwrap', ['/usr/bin/bwrap'])!;
      if (plan.seccomp) seccomp = buildSeccompFilter();
    } else if (plan.kind === 'seatbelt') {
      const profile = seatbeltProfile({ node: process.execPath, readOnly: w.readOnly, readWrite: w.readWrite, mounts: w.mounts });
      file = which('sandbox-exec', ['/usr/bin/sandbox-exec'])!;
      args = ['-p', profile, ...nodeArgv];
    } else {
      [file, ...args] = nodeArgv;
    }
    if (plan.rlimits) {
      args = [...prlimitArgs(this.rlimits()), file, ...args];
      file = this.prlimitPath()!;
    }
    let cgroup: CgroupLeaf | undefined;
    if (plan.cgroup.available && plan.cgroup.parent) {
      cgroup = new CgroupLeaf(plan.cgroup.parent, w.name);
      // join the leaf before anything else runs, so every process of the worker is born inside it
      args = ['-c', 'echo $$ > "$0" && exec "$@"', cgroup.procsFile, file, ...args];
      file = '/bin/sh';
    }
    return { file, args, env: {}, seccomp, cgroup };
  }
}

/** Start a command that should exit 0 at once; the reason (its stderr) when it does not. */
function tryStart(file: string, args: string[], env: Record<string, string>, seccomp?: Buffer): Promise<{ ok: true } | { ok: false; reason: string }> {
  return new Promise((resolve) => {
    let stderr = '';
    let settled = false;
    const done = (r: { ok: true } | { ok: false; reason: string }): void => {
      if (!settled) { settled = true; clearTimeout(timer); resolve(r); }
    };
    const child = spawn(file, args, { env, stdio: ['ignore', 'ignore', 'pipe', 'ignore', seccomp ? 'pipe' : 'ignore'] });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) child.kill('SIGKILL');
      done({ ok: false, reason: 'did not start within 10 s' });
    }, 10_000);
    child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 4096) stderr += d.toString(); });
    if (seccomp) {
      const pipe = child.stdio[SECCOMP_FD] as NodeJS.WritableStream;
      pipe.on('error', () => {});
      pipe.end(seccomp);
    }
    child.on('error', (e) => done({ ok: false, reason: e.message }));
    child.on('close', (code, signal) => {
      if (code === 0) done({ ok: true });
      else done({ ok: false, reason: (stderr.trim().split('\n')[0] || `exit ${code ?? signal}`).slice(0, 300) });
    });
  });
}
