/**
 * What an Emscripten build of QuickJS (quickjs-emscripten's release-sync variant) imports and exports, read from
 * its JavaScript glue: Emscripten minifies every import and export name, and only the glue says which is which.
 * Each role is found by the code the glue runs for it; a glue that does not match fails with a clear error
 * instead of wiring a function to the wrong import.
 */
import { UnsupportedError } from '../../../core/errors.js';

/** Imports by role (what the glue does), as the patterns that find their minified names in the glue. */
const IMPORT_ROLES = {
  memory: /[{,]([\w$]+):t,/,
  assert_fail: /[{,]([\w$]+):\([^)]*\)=>\w+\(`Assertion failed/,
  fd_write: /[{,]([\w$]+):\(a,c,b,e\)=>\{for\(var f=0,g=0;g<b;g\+\+\)/,
  fd_close: /[{,]([\w$]+):\(\)=>52[,}]/,
  environ_get: /[{,]([\w$]+):\(a,c\)=>\{var b=0,e=0,f;for\(f of/,
  environ_sizes_get: /[{,]([\w$]+):\(a,c\)=>\{var b=\w+\(\);\w+\[a>>2\]=b\.length/,
  normalize_module: /[{,]([\w$]+):function\([^)]*\)\{[^}]*return d\.callbacks\.normalizeModule/,
  load_module_source: /[{,]([\w$]+):function\([^)]*\)\{[^}]*return d\.callbacks\.loadModuleSource/,
  should_interrupt: /[{,]([\w$]+):function\([^)]*\)\{return d\.callbacks\.shouldInterrupt/,
  set_timeout: /[{,]([\w$]+):\(a,c\)=>\{\w+\[a\]&&\(clearTimeout/,
  resize_heap: /[{,]([\w$]+):a=>\{var c=\w+\.length;a>>>=0;if\(2147483648<a\)return!1/,
  keepalive_clear: /[{,]([\w$]+):\(\)=>\{\w+=!1;\w+=0\}/,
  localtime: /[{,]([\w$]+):function\(a,c\)\{a=-9007199254740992>a/,
  tzset: /[{,]([\w$]+):\(a,c,b,e\)=>\{var f=\(new Date\)\.getFullYear\(\)/,
  fd_seek: /[{,]([\w$]+):function\(\)\{return 70\}/,
  date_now: /[{,]([\w$]+):\(\)=>Date\.now\(\)/,
  abort: /[{,]([\w$]+):\(\)=>\w+\(""\)/,
  proc_exit: /[{,]([\w$]+):(\w+)(?=,\w+:function\(a,c,b,e,f\)\{return d\.callbacks\.callFunction)/,
  call_function: /[{,]([\w$]+):function\([^)]*\)\{return d\.callbacks\.callFunction/,
  free_host_ref: /[{,]([\w$]+):function\([^)]*\)\{d\.callbacks\.freeHostRef/,
} as const;
export type ImportRole = keyof typeof IMPORT_ROLES;

/** The QTS_* C API and the allocator, by export name. */
export const NEEDED_EXPORTS = [
  'malloc', 'QTS_RuntimeSetMemoryLimit', 'QTS_RuntimeSetMaxStackSize', 'QTS_GetUndefined', 'QTS_NewRuntime',
  'QTS_NewContext', 'QTS_NewString', 'QTS_GetString', 'QTS_GetFloat64', 'QTS_GetArrayBuffer', 'QTS_GetArrayBufferLength',
  'QTS_IsJobPending', 'QTS_ExecutePendingJob', 'QTS_GetProp', 'QTS_GetPropNumber', 'QTS_Call', 'QTS_ResolveException',
  'QTS_Dump', 'QTS_Eval', 'QTS_Typeof', 'QTS_PromiseState', 'QTS_PromiseResult', 'QTS_NewFunction',
  'QTS_ArgvGetJSValueConstPointer',
] as const;

export interface EmscriptenNames {
  /** role -> minified import name (module "a") */
  imports: Record<ImportRole, string>;
  /** C name (malloc, QTS_*) -> minified export name; `wasm_call_ctors` too */
  exports: Record<string, string>;
}

/** Reads the minified names out of the Emscripten glue (emscripten-module.mjs). */
export function readEmscriptenNames(glue: string): EmscriptenNames {
  const imports = {} as Record<ImportRole, string>;
  const missing: string[] = [];
  for (const [role, re] of Object.entries(IMPORT_ROLES) as [ImportRole, RegExp][]) {
    const m = re.exec(glue);
    if (m) imports[role] = m[1]!;
    else missing.push(`import ${role}`);
  }
  const exports: Record<string, string> = {};
  for (const m of glue.matchAll(/d\._(\w+)=b\.([\w$]+)[;,}]/g)) exports[m[1]!] = m[2]!;
  // the constructors run by the glue once instantiated: `Z.<name>()` right after `calledRun`
  const ctors = /d\.calledRun=!0;if\(!\w+\)\{\w+=!0;\w+\.([\w$]+)\(\)/.exec(glue);
  if (ctors) exports.wasm_call_ctors = ctors[1]!;
  else missing.push('the constructors export');
  for (const name of NEEDED_EXPORTS) if (!exports[name]) missing.push(`export ${name}`);
  const roles = Object.values(imports);
  if (new Set(roles).size !== roles.length) missing.push('(two import roles matched the same import)');
  if (missing.length > 0) {
    throw new UnsupportedError(`this QuickJS build's Emscripten glue does not look as expected (not found: ${missing.join(', ')}); JavaScript in the micro-VM supports quickjs-emscripten 0.32's release-sync build`);
  }
  return { imports, exports };
}
