/**
 * JavaScript snippets run on both Wasm-capable backends (`wasm` and `hyperlight`), whose results must be
 * identical: printing, exceptions with tracebacks, the standard built-ins and (absent) Node modules, timers and
 * promises, infinite loops, memory bombs, huge output and attempts to reach host files. `expect` pins what the
 * result must be on both, so two backends that both went wrong the same way still fail.
 */
export interface Snippet {
  name: string;
  code: string;
  opts?: { env?: Record<string, string>; stdin?: string; timeoutMs?: number; memoryMb?: number; outputBytes?: number };
  expect: {
    exitCode: number;
    stdout?: string | RegExp;
    stderr?: string | RegExp;
    error?: string;
    trap?: string;
    stdoutTruncated?: boolean;
  };
}

export const CORPUS: Snippet[] = [
  { name: 'a bare expression', code: '1+1', expect: { exitCode: 0, stdout: '', stderr: '' } },
  {
    name: 'console formatting on stdout and stderr',
    code: `console.log('n=%d s=%s', 42, 'x', { a: [1, 'two', { b: null }] }, new Map([[1, 2]]), 10n);
console.error('to stderr', new Set([1]));
console.info([1, , 3], -0, undefined, Symbol('s'));`,
    expect: { exitCode: 0, stdout: "n=42 s=x { a: [ 1, 'two', { b: null } ] } Map(1) { 1 => 2 } 10n\n[ 1, <1 empty item>, 3 ] -0 undefined Symbol(s)\n", stderr: 'to stderr Set(1) { 1 }\n' },
  },
  {
    name: 'an uncaught exception with its traceback',
    code: `function inner() { throw new TypeError('bad value'); }
function outer() { inner(); }
console.log('before');
outer();`,
    expect: { exitCode: 1, stdout: 'before\n', stderr: /^TypeError: bad value\n {4}at inner \(\[eval\]:1:.*\n {4}at outer \(\[eval\]:2/, error: 'TypeError' },
  },
  { name: 'a syntax error', code: 'let x = ;', expect: { exitCode: 1, stderr: /^SyntaxError: /, error: 'SyntaxError' } },
  { name: 'a thrown non-Error', code: 'throw 42', expect: { exitCode: 1, stderr: 'Uncaught 42\n', error: 'Error' } },
  {
    name: 'built-ins: JSON, Math, RegExp, BigInt, typed arrays, Intl-free dates',
    code: `const o = JSON.parse('{"a":[1,2,{"b":true}]}');
console.log(JSON.stringify(o), Math.max(3, 9, 4), /(\\d+)-(\\d+)/.exec('10-20').slice(1).join('+'));
console.log(2n ** 70n, new Uint8Array([1, 2, 300]), new Date(0).toISOString(), [3, 1, 2].sort().join());`,
    expect: { exitCode: 0, stdout: '{"a":[1,2,{"b":true}]} 9 10+20\n1180591620717411303424n Uint8Array(3) [ 1, 2, 44 ] 1970-01-01T00:00:00.000Z 1,2,3\n' },
  },
  {
    name: 'importing a Node module fails the same way',
    code: `import fs from 'node:fs';\nconsole.log(fs.readFileSync('/etc/passwd', 'utf8'));`,
    expect: { exitCode: 1, stdout: '', stderr: "ReferenceError: could not load module 'node:fs'\n", error: 'ReferenceError' },
  },
  {
    name: 'host files and the host process are out of reach',
    code: `console.log(typeof require, typeof fetch, typeof std, typeof os, typeof process.binding, typeof XMLHttpRequest);
import('/etc/passwd').then(() => console.log('read it'), (e) => console.log('refused:', e.name));`,
    expect: { exitCode: 0, stdout: 'undefined undefined undefined undefined undefined undefined\nrefused: ReferenceError\n' },
  },
  {
    name: 'promises, microtasks and timers in order',
    // orders that do not depend on how long the run takes (a loaded machine may take more than a timer's delay)
    code: `setTimeout(() => { console.log('timer 1'); Promise.resolve().then(() => console.log('micro in timer')); }, 5);
setTimeout(() => console.log('timer 2'), 5);
Promise.resolve().then(() => console.log('micro'));
(async () => { await null; console.log('async'); })();
console.log('sync');`,
    expect: { exitCode: 0, stdout: 'sync\nmicro\nasync\ntimer 1\nmicro in timer\ntimer 2\n' },
  },
  { name: 'a rejected top-level promise', code: `Promise.reject(new RangeError('nope'))`, expect: { exitCode: 1, stderr: /^RangeError: nope\n/, error: 'RangeError' } },
  { name: 'top-level await runs as a module', code: `const v = await Promise.resolve(7);\nconsole.log(v * 6);`, expect: { exitCode: 0, stdout: '42\n' } },
  {
    name: 'process.exit ends the run even inside try/catch',
    code: `try { console.log('a'); process.exit(7); } catch (e) { console.log('caught'); }\nconsole.log('after');`,
    expect: { exitCode: 7, stdout: 'a\n' },
  },
  { name: 'process.exitCode', code: `process.exitCode = 3; console.log('done')`, expect: { exitCode: 3, stdout: 'done\n' } },
  {
    name: 'env, argv and stdin',
    code: `console.log(process.env.GREETING, process.argv.join(' '), process.cwd());
process.stdin.on('data', (d) => console.log('stdin:', JSON.stringify(d)));`,
    opts: { env: { GREETING: 'hello' }, stdin: 'line one\nline two\n' },
    expect: { exitCode: 0, stdout: 'hello node [eval] /\nstdin: "line one\\nline two\\n"\n' },
  },
  {
    name: 'an infinite loop stops at the deadline, keeping what it printed',
    code: `console.log('started'); while (true) {}`,
    opts: { timeoutMs: 1500 },
    expect: { exitCode: 124, stdout: 'started\n', stderr: 'timeout: the run was stopped at its deadline\n' },
  },
  {
    name: 'a memory bomb of objects hits the memory limit',
    code: `const keep = []; for (;;) keep.push(new Array(100000).fill({ x: 1 }));`,
    opts: { memoryMb: 32 },
    expect: { exitCode: 137, trap: 'memory_limit', stderr: /out of memory\n(.|\n)*memory limit of 32 MiB reached\n$/ },
  },
  {
    name: 'a memory bomb of strings hits the memory limit',
    code: `const parts = []; for (;;) parts.push('x'.repeat(1 << 20) + parts.length);`,
    opts: { memoryMb: 32 },
    expect: { exitCode: 137, trap: 'memory_limit', stderr: /memory limit of 32 MiB reached\n$/ },
  },
  {
    name: 'a string doubling past QuickJS\'s string length limit',
    code: `let s = 'x'; for (;;) s = s + s;`,
    opts: { memoryMb: 32 },
    expect: { exitCode: 1, stderr: /^InternalError: string too long\n/, error: 'InternalError' },
  },
  {
    name: 'a huge ArrayBuffer is refused',
    code: `try { new ArrayBuffer(512 * 1024 * 1024); console.log('allocated'); } catch (e) { console.log(e.name + ': ' + e.message); }`,
    opts: { memoryMb: 32 },
    expect: { exitCode: 0, stdout: 'InternalError: out of memory\n' },
  },
  {
    name: 'huge output is cut at the output limit',
    code: `for (let i = 0; i < 100000; i++) console.log('line ' + i + ' ' + 'y'.repeat(40));\nconsole.error('end');`,
    opts: { outputBytes: 200000 },
    expect: { exitCode: 0, stdout: /^line 0 y+\nline 1 /, stderr: 'end\n', stdoutTruncated: true },
  },
  {
    name: 'deep recursion is a catchable stack overflow',
    code: `function f(n) { return f(n + 1) + 1; }\ntry { f(0); } catch (e) { console.log(e.name, e.message); }`,
    expect: { exitCode: 0, stdout: 'InternalError stack overflow\n' },
  },
  {
    name: 'process.stdout.write with bytes and strings',
    code: `process.stdout.write('a'); process.stdout.write(new Uint8Array([98, 10])); process.stderr.write('e\\n');`,
    expect: { exitCode: 0, stdout: 'ab\n', stderr: 'e\n' },
  },
];
