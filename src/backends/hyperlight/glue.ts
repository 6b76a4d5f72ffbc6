/**
 * The per-module C glue between wasm2c's output and the guest runtime (guest/runtime/ak_guest.h): WASI imports
 * become host calls, function exports get a wrapper table for AK_OP_INVOKE (raw argument bits in, raw result
 * bits out), and `_start` / `_initialize` are wired up. Symbol names follow wasm2c 1.0.32's mangling, and every
 * name used is checked against the generated header first, so a wasm2c that names things differently fails
 * here with a clear message instead of in the C compiler.
 */
import { AgentKernelError } from '../../core/errors.js';

export interface FuncSig {
  params: readonly string[];
  results: readonly string[];
}

/** A function export of the guest. `index` (msg->func for AK_OP_INVOKE) is set when it can be invoked. */
export interface GuestExport extends FuncSig {
  name: string;
  index?: number;
  /** Why it cannot be invoked (reference or vector types, too many values). */
  reason?: string;
}

export interface WasiImport extends FuncSig {
  name: string;
}

/** A function import from another module than WASI, served by the host (AK_HC_IMPORT_BASE + index). */
export interface HostImport extends FuncSig {
  module: string;
  name: string;
  /** msg.func - AK_HC_IMPORT_BASE; absent when the guest implements it itself (GuestExtras.guestImports). */
  index?: number;
}

/** An imported linear memory: the guest defines it (at its fixed linear-memory address) and hands it over. */
export interface ImportedMemory {
  module: string;
  name: string;
  initial: number;
  maximum?: number;
}

/** A C function of an extra guest source, invokable like an export (indices follow the module's exports). */
export interface ExtraExport extends FuncSig {
  name: string;
  /** C symbol: `void symbol(params..., uint64_t *results)`, u32/u64/f32/f64 parameters, no instance argument;
   * it stores `results.length` raw result bits. */
  symbol: string;
}

export interface GlueInput {
  /** Function exports in module order (index already assigned to the invokable ones). */
  exports: readonly GuestExport[];
  /** The wasi_snapshot_preview1 functions the module imports, with signatures already checked. */
  wasiImports: readonly WasiImport[];
  /** Other function imports: host calls, or implemented by extra guest sources (no index). */
  hostImports?: readonly HostImport[];
  importedMemory?: ImportedMemory;
  /** Invokable C functions of extra guest sources, after the module's exports. */
  extraExports?: readonly ExtraExport[];
  hasStart: boolean;
  hasInitialize: boolean;
  /** wasm2c's header for the module, and its file name for #include. */
  header: string;
  headerFile: string;
}

/** wasm2c was run with `-n m`: every symbol of the module starts with Z_m. */
export const MODULE_NAME = 'm';
export const WASI_MODULE = 'wasi_snapshot_preview1';

/** wasm2c 1.0.32's name mangling: bytes other than [A-Za-z0-9_] (and 'Z' itself) become Z + two hex digits. */
export function wasm2cMangle(name: string): string {
  let out = '';
  for (const b of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(b);
    out += /[A-Za-z0-9_]/.test(c) && c !== 'Z' ? c : `Z${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

const C_TYPE: Record<string, string> = { i32: 'u32', i64: 'u64', f32: 'f32', f64: 'f64' };
const MULTI_LETTER: Record<string, string> = { i32: 'i', i64: 'j', f32: 'f', f64: 'd' };
const FROM_BITS: Record<string, (v: string) => string> = {
  i32: (v) => `(u32)${v}`,
  i64: (v) => `(u64)${v}`,
  f32: (v) => `ak_f32_from_bits(${v})`,
  f64: (v) => `ak_f64_from_bits(${v})`,
};
const TO_BITS: Record<string, (v: string) => string> = {
  i32: (v) => `(uint64_t)${v}`,
  i64: (v) => `(uint64_t)${v}`,
  f32: (v) => `ak_f32_bits(${v})`,
  f64: (v) => `ak_f64_bits(${v})`,
};

/** WASI functions the guest runtime serves (partly) itself instead of a plain host call. */
const WASI_SPECIAL: Record<string, string> = {
  fd_write: 'ak_wasi_fd_write',
  fd_close: 'ak_wasi_fd_close',
  fd_renumber: 'ak_wasi_fd_renumber',
  proc_exit: 'ak_wasi_proc_exit',
};

/** The most arguments/results AK_OP_INVOKE carries (AK_MAX_ARGS / AK_MAX_RESULTS in abi.h). */
export const MAX_INVOKE_ARGS = 16;
export const MAX_INVOKE_RESULTS = 8;

/** Why an export with this signature cannot be called through AK_OP_INVOKE, or undefined if it can. */
export function notInvokable(sig: FuncSig): string | undefined {
  const odd = [...sig.params, ...sig.results].find((t) => !(t in C_TYPE));
  if (odd) return `its signature uses ${odd}, which cannot cross the VM boundary`;
  if (sig.params.length > MAX_INVOKE_ARGS) return `it takes more than ${MAX_INVOKE_ARGS} arguments`;
  if (sig.results.length > MAX_INVOKE_RESULTS) return `it returns more than ${MAX_INVOKE_RESULTS} values`;
  return undefined;
}

export function exportSymbol(name: string): string {
  return `Z_${wasm2cMangle(MODULE_NAME)}Z_${wasm2cMangle(name)}`;
}

function importSymbol(name: string, module = WASI_MODULE): string {
  return `Z_${wasm2cMangle(module)}Z_${wasm2cMangle(name)}`;
}

const instanceParam = (module: string, as: string) => `struct Z_${wasm2cMangle(module)}_instance_t *${as}`;

function requireInHeader(header: string, text: string, what: string): void {
  if (!header.includes(text)) {
    throw new AgentKernelError('INTERNAL', `wasm2c's output does not declare ${what} (${text}): this wasm2c names things differently than 1.0.32`);
  }
}

function cReturnType(results: readonly string[]): string {
  if (results.length === 0) return 'void';
  if (results.length === 1) return C_TYPE[results[0]];
  return `struct wasm_multi_${results.map((t) => MULTI_LETTER[t]).join('')}`;
}

function wasiStub(imp: WasiImport, header: string): string {
  const sym = importSymbol(imp.name);
  requireInHeader(header, `${sym}(`, `the import ${WASI_MODULE}.${imp.name}`);
  const params = imp.params.map((t, i) => `${C_TYPE[t]} a${i}`);
  const ret = cReturnType(imp.results);
  const names = imp.params.map((_, i) => `a${i}`);
  const instance = instanceParam(WASI_MODULE, 'wasi');
  const special = WASI_SPECIAL[imp.name];
  let body: string;
  if (special) {
    body = `${ret === 'void' ? '' : 'return '}${special}(${names.join(', ')});`;
  } else {
    const args = names.length ? `uint64_t args[${names.length}] = {${names.join(', ')}};\n  ` : '';
    const call = `ak_wasi_call(AK_WASI_${imp.name}, ${names.length}, ${names.length ? 'args' : 'NULL'})`;
    body = `${args}${ret === 'void' ? `${call};` : `return (${ret})${call};`}`;
  }
  return `${ret} ${sym}(${[instance, ...params].join(', ')}) {\n  (void)wasi;\n  ${body}\n}\n`;
}

/** A host import as a host call: raw argument bits out, the result's raw bits back. */
function hostImportStub(imp: HostImport, header: string): string {
  const sym = importSymbol(imp.name, imp.module);
  requireInHeader(header, `${sym}(`, `the import ${imp.module}.${imp.name}`);
  if (imp.results.length > 1) throw new AgentKernelError('INTERNAL', `host import ${imp.module}.${imp.name} returns more than one value`);
  const params = imp.params.map((t, i) => `${C_TYPE[t]} a${i}`);
  const ret = cReturnType(imp.results);
  const bits = imp.params.map((t, i) => TO_BITS[t](`a${i}`));
  const args = bits.length ? `uint64_t args[${bits.length}] = {${bits.join(', ')}};\n  ` : '';
  const call = `ak_host_import(${imp.index}, ${bits.length}, ${bits.length ? 'args' : 'NULL'})`;
  const body = ret === 'void' ? `${call};` : `return ${FROM_BITS[imp.results[0]](call)};`;
  return `${ret} ${sym}(${[instanceParam(imp.module, 'inst'), ...params].join(', ')}) {\n  (void)inst;\n  ${args}${body}\n}\n`;
}

function invokeCase(e: GuestExport | ExtraExport, header: string): string {
  const extra = 'symbol' in e;
  const sym = extra ? e.symbol : exportSymbol(e.name);
  if (!extra) requireInHeader(header, `${sym}(`, `the export '${e.name}'`);
  const params = e.params.map((t, i) => FROM_BITS[t](`args[${i}]`));
  const call = `${sym}(${(extra ? [...params, 'results'] : ['&ak_instance', ...params]).join(', ')})`;
  let body: string;
  if (extra || e.results.length === 0) {
    body = `${call};`;
  } else if (e.results.length === 1) {
    body = `results[0] = ${TO_BITS[e.results[0]](call)};`;
  } else {
    const type = cReturnType(e.results);
    requireInHeader(header, type, `the multi-value result of '${e.name}'`);
    const stores = e.results.map((t, i) => `results[${i}] = ${TO_BITS[t](`r.${MULTI_LETTER[t]}${i}`)};`);
    body = `${type} r = ${call};\n      ${stores.join('\n      ')}`;
  }
  return `    case ${(e as { index?: number }).index}: {\n      ${body}\n      return;\n    }`;
}

/** Prototype of an extra guest function (the module's instance is `ak_instance`, not static, for them). */
function extraPrototype(e: ExtraExport): string {
  return `void ${e.symbol}(${[...e.params.map((t) => C_TYPE[t]), 'uint64_t *results'].join(', ')});`;
}

/** wasm2c's instantiate takes one instance pointer per imported module after the module's own. */
function instantiateImportCount(header: string): number {
  const m = new RegExp(`void Z_${wasm2cMangle(MODULE_NAME)}_instantiate\\(([^)]*)\\);`).exec(header);
  if (!m) throw new AgentKernelError('INTERNAL', `wasm2c's output does not declare Z_${MODULE_NAME}_instantiate: this wasm2c names things differently than 1.0.32`);
  return m[1]!.split(',').length - 1;
}

/** The C source of the glue (compiled with the module's header and ak_guest.h on the include path). */
export function generateGlue(input: GlueInput): string {
  const { header } = input;
  const inst = `Z_${wasm2cMangle(MODULE_NAME)}_instance_t`;
  requireInHeader(header, `${inst}*`, 'the module instance type');
  const moduleInvokable = input.exports.filter((e) => e.index !== undefined).sort((a, b) => a.index! - b.index!);
  moduleInvokable.forEach((e, i) => {
    if (e.index !== i) throw new Error('export indices must be 0..n-1 in order');
  });
  const extras = (input.extraExports ?? []).map((e, i) => ({ ...e, index: moduleInvokable.length + i }));
  const invokable: (GuestExport | ExtraExport)[] = [...moduleInvokable, ...extras];
  const importArgs = ', NULL'.repeat(instantiateImportCount(header));
  const mem = input.importedMemory;
  const memSym = mem ? importSymbol(mem.name, mem.module) : '';
  if (mem) requireInHeader(header, `${memSym}(`, `the memory import ${mem.module}.${mem.name}`);
  const out: string[] = [
    '/* Generated by agentkernel (src/backends/hyperlight/glue.ts): wasm2c module <-> guest runtime. */',
    `#include "${input.headerFile}"`,
    '#include "ak_guest.h"',
    '',
    `${extras.length ? '' : 'static '}${inst} ak_instance;`,
    '',
    ...extras.map(extraPrototype),
    ...input.wasiImports.map((imp) => wasiStub(imp, header)),
    ...(input.hostImports ?? []).filter((imp) => imp.index !== undefined).map((imp) => hostImportStub(imp, header)),
    ...(mem
      ? [
          'static wasm_rt_memory_t ak_imported_memory;',
          `wasm_rt_memory_t *${memSym}(${instanceParam(mem.module, 'inst')}) {\n  (void)inst;\n  return &ak_imported_memory;\n}`,
          '',
        ]
      : []),
    'static void glue_instantiate(void) {',
    ...(mem ? [`  ak_define_imported_memory(&ak_imported_memory, ${mem.initial}u, ${Math.min(mem.maximum ?? 65536, 65536)}u);`] : []),
    `  Z_${wasm2cMangle(MODULE_NAME)}_init_module();`,
    `  Z_${wasm2cMangle(MODULE_NAME)}_instantiate(&ak_instance${importArgs});`,
    '}',
    '',
  ];
  if (input.hasStart) {
    requireInHeader(header, `${exportSymbol('_start')}(`, 'the export _start');
    out.push(`static void glue_start(void) { ${exportSymbol('_start')}(&ak_instance); }`, '');
  }
  if (input.hasInitialize) {
    requireInHeader(header, `${exportSymbol('_initialize')}(`, 'the export _initialize');
    out.push(`static void glue_initialize(void) { ${exportSymbol('_initialize')}(&ak_instance); }`, '');
  }
  out.push(
    'static void glue_invoke(uint32_t index, const uint64_t *args, uint64_t *results) {',
    '  (void)args;',
    '  (void)results;',
    '  switch (index) {',
    ...invokable.map((e) => invokeCase(e, header)),
    '  }',
    '  ak_abort("invoke: no export with this index");',
    '}',
    '',
  );
  const table = invokable.map((e) => `{${e.params.length}, ${e.results.length}}`);
  out.push(
    `static const struct ak_export glue_exports[${Math.max(table.length, 1)}] = {${table.join(', ')}};`,
    '',
    'const struct ak_module ak_module = {',
    `  .nexports = ${invokable.length},`,
    '  .exports = glue_exports,',
    `  .start = ${input.hasStart ? 'glue_start' : 'NULL'},`,
    `  .initialize = ${input.hasInitialize ? 'glue_initialize' : 'NULL'},`,
    '  .invoke = glue_invoke,',
    '  .instantiate = glue_instantiate,',
    '};',
    '',
  );
  return out.join('\n');
}
