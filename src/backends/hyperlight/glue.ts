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

export interface GlueInput {
  /** Function exports in module order (index already assigned to the invokable ones). */
  exports: readonly GuestExport[];
  /** The wasi_snapshot_preview1 functions the module imports, with signatures already checked. */
  wasiImports: readonly WasiImport[];
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

function importSymbol(name: string): string {
  return `Z_${wasm2cMangle(WASI_MODULE)}Z_${wasm2cMangle(name)}`;
}

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
  const instance = `struct Z_${wasm2cMangle(WASI_MODULE)}_instance_t *wasi`;
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

function invokeCase(e: GuestExport, header: string): string {
  const sym = exportSymbol(e.name);
  requireInHeader(header, `${sym}(`, `the export '${e.name}'`);
  const call = `${sym}(${['&ak_instance', ...e.params.map((t, i) => FROM_BITS[t](`args[${i}]`))].join(', ')})`;
  let body: string;
  if (e.results.length === 0) {
    body = `${call};`;
  } else if (e.results.length === 1) {
    body = `results[0] = ${TO_BITS[e.results[0]](call)};`;
  } else {
    const type = cReturnType(e.results);
    requireInHeader(header, type, `the multi-value result of '${e.name}'`);
    const stores = e.results.map((t, i) => `results[${i}] = ${TO_BITS[t](`r.${MULTI_LETTER[t]}${i}`)};`);
    body = `${type} r = ${call};\n      ${stores.join('\n      ')}`;
  }
  return `    case ${e.index}: {\n      ${body}\n      return;\n    }`;
}

/** The C source of the glue (compiled with the module's header and ak_guest.h on the include path). */
export function generateGlue(input: GlueInput): string {
  const { header } = input;
  const inst = `Z_${wasm2cMangle(MODULE_NAME)}_instance_t`;
  requireInHeader(header, `${inst}*`, 'the module instance type');
  const invokable = input.exports.filter((e) => e.index !== undefined).sort((a, b) => a.index! - b.index!);
  invokable.forEach((e, i) => {
    if (e.index !== i) throw new Error('export indices must be 0..n-1 in order');
  });
  const wasiArg = input.wasiImports.length > 0 ? ', NULL' : '';
  const out: string[] = [
    '/* Generated by agentkernel (src/backends/hyperlight/glue.ts): wasm2c module <-> guest runtime. */',
    `#include "${input.headerFile}"`,
    '#include "ak_guest.h"',
    '',
    `static ${inst} ak_instance;`,
    '',
    ...input.wasiImports.map((imp) => wasiStub(imp, header)),
    'static void glue_instantiate(void) {',
    `  Z_${wasm2cMangle(MODULE_NAME)}_init_module();`,
    `  Z_${wasm2cMangle(MODULE_NAME)}_instantiate(&ak_instance${wasiArg});`,
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
