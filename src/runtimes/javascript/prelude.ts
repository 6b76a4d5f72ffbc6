/**
 * The guest side of the JavaScript runtime: source evaluated in every fresh QuickJS context before the guest's
 * code. It builds what guests expect of Node (console with Node-like formatting, a minimal `process`, timers)
 * on top of four host functions, and hides those. Nothing of the host is reachable from here: the host functions
 * only write output, end the run and hand over stdin.
 *
 * Evaluated as an expression: a function (host, configJson) returning { tick, formatError } for the host's
 * event loop. `tick()` runs the earliest due timer and returns 0 (more are due), the ms until the next timer,
 * or -1 (none left).
 */
export const PRELUDE_SOURCE = String.raw`(function (host, configJson) {
'use strict';
const config = JSON.parse(configJson);
const hostWrite = host.write, hostWriteBytes = host.writeBytes, hostExit = host.exit, hostStdin = host.stdin;
const G = globalThis;

// ---- formatting (util.inspect / util.format, the common subset) ----
const BREAK = 72;
function quote(s) {
  return "'" + s.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/\n/g, '\\n').replace(/\t/g, '\\t') + "'";
}
function keyText(k) {
  if (typeof k === 'symbol') return '[' + String(k) + ']';
  return /^[A-Za-z_$][\w$]*$/.test(k) ? k : quote(k);
}
function ctorName(v) {
  try {
    const p = Object.getPrototypeOf(v);
    if (p === null) return null;
    const c = p.constructor;
    return c && typeof c.name === 'string' ? c.name : '';
  } catch (e) { return ''; }
}
function errorText(e) {
  let head;
  try { head = String(e.name) + (e.message !== undefined && String(e.message) !== '' ? ': ' + String(e.message) : ''); }
  catch (x) { head = 'Error'; }
  const stack = typeof e.stack === 'string' ? e.stack : '';
  return stack ? head + '\n' + stack.replace(/\n$/, '') : head;
}
function wrap(open, parts, close, indent) {
  if (parts.length === 0) return open.trim() + close.trim();
  const one = open + parts.join(', ') + close;
  if (one.length <= BREAK && !one.includes('\n')) return one;
  const pad = '  '.repeat(indent + 1);
  return open.trim() + '\n' + pad + parts.join(',\n' + pad) + '\n' + '  '.repeat(indent) + close.trim();
}
function inspect(v, depth, seen, indent) {
  switch (typeof v) {
    case 'string': return depth === 0 ? v : quote(v);
    case 'number': return Object.is(v, -0) ? '-0' : String(v);
    case 'bigint': return String(v) + 'n';
    case 'boolean': case 'undefined': return String(v);
    case 'symbol': return String(v);
    case 'function': {
      const src = Function.prototype.toString.call(v);
      if (/^class\b/.test(src)) return '[class ' + (v.name || '(anonymous)') + ']';
      return '[Function: ' + (v.name || '(anonymous)') + ']';
    }
  }
  if (v === null) return 'null';
  if (seen.includes(v)) return '[Circular]';
  if (v instanceof Error) return errorText(v);
  if (v instanceof Date) return isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  if (v instanceof RegExp) return String(v);
  if (v instanceof Promise) return 'Promise {}';
  const name = ctorName(v);
  if (depth > 2) return Array.isArray(v) ? '[Array]' : '[' + (name || 'Object') + ']';
  const next = seen.concat([v]);
  const sub = (x) => inspect(x, depth + 1, next, indent + 1);
  if (Array.isArray(v) || ArrayBuffer.isView(v)) {
    const parts = [];
    const n = Math.min(v.length, 100);
    let holes = 0;
    for (let i = 0; i < n; i++) {
      if (!(i in v)) { holes++; continue; }
      if (holes) { parts.push('<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>'); holes = 0; }
      parts.push(sub(v[i]));
    }
    if (holes) parts.push('<' + holes + ' empty item' + (holes > 1 ? 's' : '') + '>');
    if (v.length > n) parts.push('... ' + (v.length - n) + ' more item' + (v.length - n > 1 ? 's' : ''));
    if (Array.isArray(v)) for (const k of Object.keys(v)) if (!/^\d+$/.test(k)) parts.push(keyText(k) + ': ' + sub(v[k]));
    const prefix = Array.isArray(v) ? (name && name !== 'Array' ? name + '(' + v.length + ') ' : '') : name + '(' + v.length + ') ';
    return prefix + wrap('[ ', parts, ' ]', indent);
  }
  if (v instanceof Map) {
    const parts = [];
    for (const [k, x] of v) parts.push(sub(k) + ' => ' + sub(x));
    return 'Map(' + v.size + ') ' + wrap('{ ', parts, ' }', indent);
  }
  if (v instanceof Set) {
    const parts = [];
    for (const x of v) parts.push(sub(x));
    return 'Set(' + v.size + ') ' + wrap('{ ', parts, ' }', indent);
  }
  const parts = [];
  for (const k of Object.keys(v)) {
    let x;
    try { x = v[k]; } catch (e) { x = '[Getter]'; }
    parts.push(keyText(k) + ': ' + sub(x));
  }
  for (const s of Object.getOwnPropertySymbols(v)) parts.push(keyText(s) + ': ' + sub(v[s]));
  const prefix = name === null ? '[Object: null prototype] ' : name && name !== 'Object' ? name + ' ' : '';
  return prefix + wrap('{ ', parts, ' }', indent);
}
function show(v) { return inspect(v, 0, [], 0); }
function format(args) {
  let out = '';
  let i = 0;
  if (typeof args[0] === 'string' && args[0].includes('%')) {
    const f = args[0];
    i = 1;
    for (let j = 0; j < f.length; j++) {
      const c = f[j];
      if (c !== '%' || j + 1 >= f.length) { out += c; continue; }
      const t = f[++j];
      if (t === '%') { out += '%'; continue; }
      if ('sdifjoOc'.includes(t)) {
        if (i >= args.length) { out += '%' + t; continue; }
        const a = args[i++];
        if (t === 's') out += typeof a === 'string' ? a : show(a);
        else if (t === 'd' || t === 'i') out += typeof a === 'bigint' ? String(a) + 'n' : String(t === 'i' ? parseInt(a) : Number(a));
        else if (t === 'f') out += String(parseFloat(a));
        else if (t === 'j') { try { out += JSON.stringify(a); } catch (e) { out += '[Circular]'; } }
        else if (t === 'c') { /* CSS: ignored */ }
        else out += inspect(a, 1, [], 0);
        continue;
      }
      out += '%' + t;
    }
  }
  for (; i < args.length; i++) out += (out || i > 0 ? ' ' : '') + (typeof args[i] === 'string' ? args[i] : show(args[i]));
  return out;
}

// ---- console ----
let groupIndent = '';
function emit(fd, args) {
  let text = format(args);
  if (groupIndent) text = groupIndent + text.replace(/\n/g, '\n' + groupIndent);
  hostWrite(fd, text + '\n');
}
const counts = new Map();
const timers = new Map();
const console = {
  log: (...a) => emit(1, a), info: (...a) => emit(1, a), debug: (...a) => emit(1, a),
  error: (...a) => emit(2, a), warn: (...a) => emit(2, a),
  trace: (...a) => emit(2, ['Trace' + (a.length ? ': ' + format(a) : '') + '\n' + (new Error().stack || '').replace(/\n$/, '')]),
  dir: (v) => emit(1, [show(v)]),
  table: (...a) => emit(1, a),
  assert: (ok, ...a) => { if (!ok) emit(2, ['Assertion failed' + (a.length ? ': ' + format(a) : '')]); },
  count: (label = 'default') => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); emit(1, [label + ': ' + n]); },
  countReset: (label = 'default') => { counts.delete(label); },
  time: (label = 'default') => { timers.set(label, Date.now()); },
  timeLog: (label = 'default', ...a) => { const t = timers.get(label); if (t !== undefined) emit(1, [label + ': ' + (Date.now() - t) + 'ms', ...a]); },
  timeEnd: (label = 'default') => { const t = timers.get(label); if (t !== undefined) { timers.delete(label); emit(1, [label + ': ' + (Date.now() - t) + 'ms']); } },
  group: (...a) => { if (a.length) emit(1, a); groupIndent += '  '; },
  groupEnd: () => { groupIndent = groupIndent.slice(2); },
};
console.groupCollapsed = console.group;

// ---- timers: a queue the host drives between microtask checkpoints ----
let timerSeq = 0;
const queue = [];
function addTimer(fn, ms, args, repeat) {
  if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
  const delay = Math.max(1, Number(ms) || 0);
  const t = { id: ++timerSeq, fn, args, due: Date.now() + delay, repeat: repeat ? delay : 0 };
  queue.push(t);
  return t.id;
}
function clearTimer(id) {
  const i = queue.findIndex((t) => t.id === id);
  if (i >= 0) queue.splice(i, 1);
}
function tick() {
  if (queue.length === 0) return -1;
  let first = 0;
  for (let i = 1; i < queue.length; i++) {
    const a = queue[i], b = queue[first];
    if (a.due < b.due || (a.due === b.due && a.id < b.id)) first = i;
  }
  const t = queue[first];
  const wait = t.due - Date.now();
  if (wait > 0) return wait;
  if (t.repeat) t.due += t.repeat; else queue.splice(first, 1);
  t.fn.apply(undefined, t.args);
  return queue.length ? 0 : -1;
}
function queueMicrotask(fn) { Promise.resolve().then(() => fn()); }

// ---- process ----
let stdinLeft = null;
function takeStdin() {
  if (stdinLeft === null) stdinLeft = hostStdin();
  const s = stdinLeft;
  stdinLeft = '';
  return s;
}
function writer(fd) {
  return {
    isTTY: false,
    write(chunk, encoding, cb) {
      if (chunk instanceof Uint8Array) hostWriteBytes(fd, chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
      else hostWrite(fd, String(chunk));
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') queueMicrotask(done);
      return true;
    },
  };
}
const listeners = { data: [], end: [] };
let stdinFlowing = false;
const stdin = {
  isTTY: false,
  setEncoding() { return stdin; },
  resume() { return stdin; },
  pause() { return stdin; },
  read() { const s = takeStdin(); return s === '' ? null : s; },
  on(event, fn) {
    if (event === 'data' || event === 'end') listeners[event].push(fn);
    if (!stdinFlowing && (event === 'data' || event === 'end')) {
      stdinFlowing = true;
      addTimer(() => {
        const s = takeStdin();
        if (s !== '') for (const f of listeners.data) f(s);
        for (const f of listeners.end) f();
      }, 0, [], false);
    }
    return stdin;
  },
  [Symbol.asyncIterator]: async function* () { const s = takeStdin(); if (s !== '') yield s; },
};
stdin.once = stdin.on;
stdin.addListener = stdin.on;
const process = {
  argv: config.argv,
  argv0: 'node',
  env: config.env,
  exitCode: undefined,
  platform: 'linux',
  pid: 1,
  cwd: () => config.cwd,
  exit(code) {
    const c = code === undefined ? process.exitCode : code;
    hostExit(Number(c) || 0);
  },
  nextTick(fn, ...args) { queueMicrotask(() => fn(...args)); },
  stdout: writer(1),
  stderr: writer(2),
  stdin,
};

const define = (name, value) => Object.defineProperty(G, name, { value, writable: true, configurable: true, enumerable: false });
define('console', console);
define('process', process);
define('setTimeout', (fn, ms, ...args) => addTimer(fn, ms, args, false));
define('setInterval', (fn, ms, ...args) => addTimer(fn, ms, args, true));
define('setImmediate', (fn, ...args) => addTimer(fn, 0, args, false));
define('clearTimeout', clearTimer);
define('clearInterval', clearTimer);
define('clearImmediate', clearTimer);
if (typeof G.queueMicrotask !== 'function') define('queueMicrotask', queueMicrotask);
define('global', G);

function formatError(e) {
  if (e instanceof Error) return JSON.stringify({ name: String(e.name), message: String(e.message), text: errorText(e) });
  return JSON.stringify({ name: 'Error', message: show(e), text: 'Uncaught ' + show(e) });
}
function exitCode() {
  const c = process.exitCode;
  return c === undefined ? 0 : Number(c) || 0;
}
return { tick, formatError, exitCode };
})`;
