/**
 * The `hyperlight` backend: WebAssembly modules compiled ahead of time into KVM micro-VM guests (no guest OS,
 * CPL3), so a module is behind both Wasm's and the CPU's isolation. Calls are stateless: each starts from a
 * snapshot of the freshly instantiated module, on a VM taken from a pool and reset after use.
 *
 * Per module: compile (cached on disk by compile.ts) -> boot to READY once per memory size -> snapshot -> pool.
 */
import { basename } from 'node:path';
import { AbortError, UnavailableError, UnsupportedError, ValidationError, throwIfAborted } from '../../core/errors.js';
import { BoundedOutput } from '../../core/output.js';
import {
  EXIT, type Availability, type Capabilities, type CapabilityName, type ExecResult, type InvokeOptions, type IsolationReport, type Language,
  type Limits, type RunCodeOptions, type RunWasmOptions,
} from '../../core/types.js';
import { parseLanguage } from '../../runtimes/index.js';
import type { RuntimeOutcome } from '../../runtimes/types.js';
import { loadModuleBytes } from '../../runtimes/wasm/module.js';
import { BaseBackend } from '../base.js';
import { resolveLimits } from '../wasm/limits.js';
import { normalizeMounts } from '../wasm/mounts.js';
import { checkEnv, stdinBytes } from '../wasm/request.js';
import { MicroVmJavaScript } from './code/javascript.js';
import { MicroVmPython } from './code/python.js';
import { pythonGuestPrepared } from './code/python-guest.js';
import { HyperlightSessions } from './code/vm-session.js';
import { quickJsGuestPrepared } from './code/quickjs-guest.js';
import { GuestImage, callImage, moduleHash, prepareModule, type CallSpec, type PreparedModule } from './sandbox.js';
import { guestToolchain } from './toolchain.js';
import { vmmAvailability } from './vmm.js';

const ISOLATION: IsolationReport = { layers: ['wasm', 'kvm'] };

export interface HyperlightBackendOptions {
  /** Modules kept compiled and booted in this process (each with its snapshot and pool). @default 32 */
  maxImages?: number;
  /** Limit for instantiating a module (its start function) when its snapshot is taken (ms). @default 10000 */
  bootTimeoutMs?: number;
}


/** Waits for p unless the signal fires first (p itself carries on for other callers). */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  throwIfAborted(signal);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

export class HyperlightBackend extends BaseBackend {
  readonly name = 'hyperlight' as const;
  readonly #maxImages: number;
  readonly #bootTimeoutMs: number;
  /** Compiled modules by content hash. */
  readonly #modules = new Map<string, Promise<PreparedModule>>();
  /** Booted images by `hash:memoryMb`, least recently used first. */
  readonly #images = new Map<string, Promise<GuestImage>>();
  /** QuickJS in the micro-VM (compiled and snapshotted on first use). */
  readonly javascript = new MicroVmJavaScript();
  /** CPython in the micro-VM (built, compiled and snapshotted on first use). */
  readonly python = new MicroVmPython();
  /** Code sessions: a VM each, kept between calls. */
  readonly sessions = new HyperlightSessions(
    { python: this.python, javascript: this.javascript },
    (language) => (language === 'python' ? pythonGuestPrepared() : quickJsGuestPrepared()),
    (r, stdout, stderr, started) => this.#result(r, stdout, stderr, started),
  );

  constructor(opts: HyperlightBackendOptions = {}) {
    super();
    this.#maxImages = opts.maxImages ?? 32;
    this.#bootTimeoutMs = opts.bootTimeoutMs ?? 10_000;
  }

  capabilities(): Capabilities {
    return {
      lifecycle: false, exec: false, files: false, runWasm: true, invoke: true,
      languages: [...(quickJsGuestPrepared() ? ['javascript' as const] : []), ...(pythonGuestPrepared() ? ['python' as const] : [])],
      snapshot: true, wasmComponent: false,
    };
  }

  /** Why a capability this backend lacks is missing, for the error that refuses it (e.g. Python). */
  unsupportedReason(capability: CapabilityName): string | undefined {
    if (capability === 'runCode:python' && !pythonGuestPrepared()) {
      return "CPython is not built for the micro-VM yet: run 'agentkernel setup' (once per installation: a few minutes)";
    }
    if (capability === 'runCode:javascript' && !quickJsGuestPrepared()) {
      return "QuickJS is not compiled for the micro-VM yet: run 'agentkernel setup' (once per installation)";
    }
    return undefined;
  }

  async availability(): Promise<Availability> {
    const vmm = vmmAvailability();
    if (!vmm.available) return { available: false, reason: vmm.reason, details: vmm.details };
    try {
      const tc = await guestToolchain();
      return { available: true, details: { ...vmm.details, layers: ISOLATION.layers, wasm2c: tc.wasm2c, gcc: tc.gcc } };
    } catch (e) {
      return { available: false, reason: `the guest toolchain is unavailable: ${(e as Error).message}`, details: vmm.details };
    }
  }

  /** Throws UnavailableError naming the missing piece, before any work. */
  async #ready(): Promise<void> {
    const a = await this.availability();
    if (!a.available) throw new UnavailableError(`backend 'hyperlight' is unavailable: ${a.reason}`, { backend: 'hyperlight' });
  }

  /** Shared by concurrent callers, so no caller's signal may abort it: each caller stops waiting on its own. */
  #module(bytes: Uint8Array, hash: string): Promise<PreparedModule> {
    let p = this.#modules.get(hash);
    if (!p) {
      p = prepareModule(bytes);
      p.catch(() => this.#modules.delete(hash));
      this.#modules.set(hash, p);
      if (this.#modules.size > this.#maxImages) this.#modules.delete(this.#modules.keys().next().value!);
    }
    return p;
  }

  async #image(bytes: Uint8Array, limits: Limits): Promise<GuestImage> {
    const hash = moduleHash(bytes);
    const key = `${hash}:${limits.memoryMb}`;
    let p = this.#images.get(key);
    if (p) {
      // most recently used last
      this.#images.delete(key);
      this.#images.set(key, p);
      return p;
    }
    p = this.#module(bytes, hash).then((m) => GuestImage.boot(m, limits.memoryMb, this.#bootTimeoutMs));
    p.catch(() => this.#images.delete(key));
    this.#images.set(key, p);
    while (this.#images.size > this.#maxImages) {
      const oldest = this.#images.keys().next().value!;
      const evicted = this.#images.get(oldest)!;
      this.#images.delete(oldest);
      evicted.then((img) => img.close(), () => undefined);
    }
    return p;
  }

  async #run(o: RunWasmOptions | InvokeOptions, spec: (bytes: Uint8Array) => CallSpec): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const limits = resolveLimits(o);
    const mounts = normalizeMounts(o.mounts);
    const stdin = stdinBytes(o.stdin);
    await this.#ready();
    const bytes = await loadModuleBytes(o.module);
    const image = await abortable(this.#image(bytes, limits), o.signal);
    const started = performance.now();
    const stdout = new BoundedOutput(limits.outputBytes, o.onStdout);
    const stderr = new BoundedOutput(limits.outputBytes, o.onStderr);
    const r = await callImage(image, spec(bytes), {
      env: o.env ?? {}, stdin, mounts, timeoutMs: limits.timeoutMs, signal: o.signal,
      out: { stdout: (d) => stdout.write(d), stderr: (d) => stderr.write(d) },
    });
    return this.#result(r, stdout, stderr, started);
  }

  /** The result of a guest run whose output went through the two bounded buffers (closed here). */
  #result(
    r: Pick<RuntimeOutcome, 'exitCode' | 'trap' | 'error'> & { results?: ExecResult['results'] },
    stdout: BoundedOutput, stderr: BoundedOutput, started: number,
  ): ExecResult {
    stdout.end();
    stderr.end();
    return {
      exitCode: r.exitCode,
      stdout: stdout.text(),
      stderr: stderr.text(),
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      durationMs: performance.now() - started,
      ...(r.exitCode === EXIT.TIMEOUT ? { timedOut: true } : {}),
      ...(r.trap ? { trap: r.trap } : {}),
      ...(r.error ? { error: r.error } : {}),
      ...(r.results ? { results: r.results } : {}),
      backend: this.name,
      isolation: ISOLATION,
    };
  }

  async runWasm(o: RunWasmOptions): Promise<ExecResult> {
    const programName = typeof o.module === 'string' && !o.module.trimStart().startsWith('(') ? basename(o.module) : 'module.wasm';
    return this.#run(o, () => ({ op: 'start', programName, args: (o.args ?? []).map(String) }));
  }

  async runCode(language: Language, code: string, o: RunCodeOptions = {}): Promise<ExecResult> {
    throwIfAborted(o.signal);
    const lang = parseLanguage(language);
    if (lang !== 'javascript' && lang !== 'python') return super.runCode(lang, code, o);
    const runtime = lang === 'python' ? this.python : this.javascript;
    if (typeof code !== 'string') throw new ValidationError('code must be a string');
    if (o.cwd !== undefined && (typeof o.cwd !== 'string' || !o.cwd.startsWith('/'))) throw new ValidationError('cwd must be an absolute guest path');
    const limits = resolveLimits(o);
    const req = {
      code, env: checkEnv(o.env), stdin: stdinBytes(o.stdin), mounts: normalizeMounts(o.mounts), memoryMb: limits.memoryMb,
      ...(o.cwd !== undefined ? { cwd: o.cwd } : {}),
    };
    await this.#ready();
    await abortable(runtime.image(limits.memoryMb), o.signal);
    const started = performance.now();
    const stdout = new BoundedOutput(limits.outputBytes, o.onStdout);
    const stderr = new BoundedOutput(limits.outputBytes, o.onStderr);
    const r: RuntimeOutcome = await runtime.run(
      { ...req, deadline: Date.now() + limits.timeoutMs },
      { stdout: (d) => stdout.write(d), stderr: (d) => stderr.write(d) },
      o.signal,
    );
    return this.#result(r, stdout, stderr, started);
  }

  async invoke(o: InvokeOptions): Promise<ExecResult> {
    if (typeof o.export !== 'string' || o.export === '') throw new ValidationError('invoke needs the name of an exported function');
    return this.#run(o, () => ({ op: 'invoke', export: o.export, args: o.args ?? [] }));
  }

  /** Disposes every pooled VM and snapshot; the backend boots modules again on next use. */
  async close(): Promise<void> {
    const images = [...this.#images.values()];
    this.#images.clear();
    this.#modules.clear();
    await Promise.allSettled([...images.map(async (p) => (await p).close()), this.javascript.close(), this.python.close()]);
  }
}
