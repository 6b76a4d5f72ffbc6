/** Other sandboxes (files, processes, what an earlier run left behind) and the host's environment. */
import { all, exits, expectation, never, prints } from '../expect.js';
import { CANARY_ENV } from '../canary.js';
import type { EscapeCase } from '../types.js';
import { CPY_ENV, CPY_RESIDUE_LOOK, CPY_RESIDUE_PLANT } from './cpython.js';
import { PY_ROOT, pyRead, shRead, SUCCESS } from './snippets.js';

const DENIED = all(never(SUCCESS, 'no READ/SIGNALLED/HOSTPID'), prints(/DENIED/, 'every try DENIED'));

/** Every result of invoke is zero: nothing of the earlier call survived. */
const ZEROS = expectation('exit 0, peek() = [0, 0]', (o) =>
  o.result?.exitCode === 0 && o.result.results?.length === 2 && o.result.results.every((v) => String(v) === '0')
    ? undefined
    : `expected peek() = [0, 0], got ${o.error ? o.error.message : JSON.stringify(o.result?.results)}`);

const PY_PROCS = `${PY_ROOT}
pids = [p for p in os.listdir(ROOT + "/proc") if p.isdigit()]
print("procs", len(pids))
if os.path.exists(ROOT + "/proc/{{HOST_PID}}/cmdline") and b"node" in open(ROOT + "/proc/{{HOST_PID}}/cmdline", "rb").read():
    print("HOSTPID visible")
for p in pids:
    tryit("READ environ", lambda: open(ROOT + "/proc/" + p + "/environ", "rb").read())
print("DENIED done")
`;

const BUSYBOX_PROCS = `echo "procs $(ls /proc | grep -c '^[0-9]')"
cat /proc/[0-9]*/environ /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n'
kill -0 {{HOST_PID}} 2>/dev/null && echo SIGNALLED || echo "DENIED kill"
ls /proc/[0-9]*/root/tmp/ 2>/dev/null`;

const PY_RESIDUE_PLANT = `import os, builtins
builtins.residue = "{{TOKEN}}"
os.environ["RESIDUE"] = "{{TOKEN}}"
open("/tmp/residue", "w").write("{{TOKEN}}")
SECRET = "{{TOKEN}}"`;

const PY_RESIDUE_LOOK = `import os, builtins, sys
print(getattr(builtins, "residue", None), os.environ.get("RESIDUE"), os.listdir("/tmp"), globals().get("SECRET"))
print([m for m in sys.modules if "residue" in m])
try:
    print(open("/tmp/residue").read())
except OSError as e:
    print("DENIED", type(e).__name__)`;

export const NEIGHBOUR_CASES: EscapeCase[] = [
  {
    id: 'neighbour-files',
    category: 'neighbours',
    threat: "from one persistent sandbox, read a file in another's (a neighbour holding the canary)",
    attempts: [
      {
        via: 'python', tries: 'the neighbour workspace by host path, directly and via mountNodeFS', inSandbox: true, only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: pyRead('{{NEIGHBOUR_FILE}}') },
        expect: DENIED,
      },
      {
        via: 'shell', tries: 'cat the neighbour path', inSandbox: true,
        payload: { kind: 'code', language: 'shell', code: shRead('{{NEIGHBOUR_FILE}}') },
        expect: DENIED,
      },
      {
        via: 'container', tries: 'cat the same path, and through /proc/*/root', inSandbox: true,
        payload: { kind: 'argv', argv: ['sh', '-c', `${shRead('{{NEIGHBOUR_FILE}}')}\nfor f in /proc/[0-9]*/root{{NEIGHBOUR_FILE}}; do ${shRead('$f')}; done`] },
        expect: DENIED,
      },
    ],
  },
  {
    id: 'neighbour-processes',
    category: 'neighbours',
    threat: "see or signal the host's and other sandboxes' processes (the neighbour's environment holds the canary)",
    attempts: [
      {
        via: 'python', tries: "list the jail's /proc, read every environ, look for the host's PID", inSandbox: true, only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: PY_PROCS },
        // the worker's own processes: bwrap's init and node (each environ is the jail's, without the canary)
        expect: all(exits(0), prints(/^procs [1-4]$/m, 'at most 4 processes visible'), never(/HOSTPID/)),
      },
      {
        via: 'container', tries: 'ps via /proc, every environ and cmdline, kill -0 the host PID', inSandbox: true,
        payload: { kind: 'argv', argv: ['sh', '-c', BUSYBOX_PROCS] },
        expect: all(prints(/^procs [1-9]$/m, 'a handful of own processes'), DENIED),
      },
    ],
  },
  {
    id: 'neighbour-residue',
    category: 'neighbours',
    threat: 'find what an earlier run (another caller) left in linear memory, globals, interpreter state or temp files',
    attempts: [
      {
        via: 'wasi', tries: 'plant(token) in memory and a global, then peek() in the next call',
        before: { kind: 'invoke', export: 'plant', args: ['{{TOKEN_NUM}}'] },
        payload: { kind: 'invoke', export: 'peek' },
        expect: ZEROS,
      },
      {
        via: 'python', tries: 'builtins, os.environ, /tmp, globals of the previous run', only: ['wasm'],
        before: { kind: 'code', language: 'python', code: PY_RESIDUE_PLANT },
        payload: { kind: 'code', language: 'python', code: PY_RESIDUE_LOOK },
        expect: exits(0),
      },
      {
        via: 'python', tries: 'builtins, globals, a module attribute, sys.modules, sys.path, os.environ of the previous run',
        only: ['hyperlight'],
        before: { kind: 'code', language: 'python', code: CPY_RESIDUE_PLANT },
        payload: { kind: 'code', language: 'python', code: CPY_RESIDUE_LOOK },
        expect: all(exits(0), prints(/^residue None None None None \[\] \[\]$/m, 'none of the changes survived')),
      },
      {
        via: 'javascript', tries: 'globalThis and Object.prototype of the previous run',
        before: { kind: 'code', language: 'javascript', code: 'globalThis.residue = "{{TOKEN}}"; Object.prototype.residue = "{{TOKEN}}";' },
        payload: { kind: 'code', language: 'javascript', code: 'console.log(String(globalThis.residue), String(({}).residue), Object.keys(globalThis).join(","))' },
        expect: all(exits(0), prints(/^undefined undefined/, 'nothing defined')),
      },
      {
        via: 'shell', tries: 'exported variables and /tmp files of the previous run',
        before: { kind: 'code', language: 'shell', code: 'export RESIDUE={{TOKEN}}; echo {{TOKEN}} > /tmp/residue' },
        payload: { kind: 'code', language: 'shell', code: 'env; echo "r=$RESIDUE"; cat /tmp/residue 2>/dev/null; ls /tmp 2>/dev/null; echo end' },
        expect: all(exits(0), prints(/^r=$/m, 'the variable is gone')),
      },
      {
        via: 'container', tries: '/tmp and processes of the previous run',
        before: { kind: 'argv', argv: ['sh', '-c', 'echo {{TOKEN}} > /tmp/residue; (sleep 30; echo {{TOKEN}}) >/dev/null 2>&1 &'] },
        payload: { kind: 'argv', argv: ['sh', '-c', 'cat /tmp/residue 2>/dev/null; cat /proc/[0-9]*/cmdline | tr "\\0" " "; echo'] },
        expect: exits(0),
      },
    ],
  },
  {
    id: 'host-env',
    category: 'environment',
    threat: `read the host's environment variables (${CANARY_ENV} holds the canary)`,
    attempts: [
      { via: 'wasi', tries: 'environ_get', payload: { kind: 'probe', op: 'env' }, expect: all(exits(0), never(new RegExp(CANARY_ENV))) },
      {
        via: 'python', tries: "os.environ, and the jail's /proc/self/environ and /proc/1/environ", only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: `${PY_ROOT}
print(dict(os.environ))
for p in ["/proc/self/environ", "/proc/1/environ"]:
    tryit("ENV", lambda: open(ROOT + p, "rb").read())` },
        expect: all(exits(0), never(new RegExp(CANARY_ENV))),
      },
      {
        via: 'python', tries: 'os.environ, os.getenv, /proc/self/environ and /proc/1/environ directly and by ..', only: ['hyperlight'],
        payload: { kind: 'code', language: 'python', code: CPY_ENV },
        expect: all(exits(0), prints(/^getenv None$/m, 'the variable is not set'), never(new RegExp(CANARY_ENV)), never(SUCCESS, 'no READ')),
      },
      {
        via: 'javascript', tries: 'process.env, std.getenv',
        payload: { kind: 'code', language: 'javascript', code: `
for (const f of [() => process.env, () => std.getenv("${CANARY_ENV}"), () => os.environ]) {
  try { console.log(JSON.stringify(f())); } catch (e) { console.log("DENIED", e.name); }
}` },
        expect: all(exits(0), never(new RegExp(CANARY_ENV))),
      },
      {
        via: 'shell', tries: 'env, set',
        payload: { kind: 'code', language: 'shell', code: 'env; set' },
        expect: all(exits(0), never(new RegExp(CANARY_ENV))),
      },
      {
        via: 'container', tries: 'env, /proc/1/environ',
        payload: { kind: 'argv', argv: ['sh', '-c', 'env; tr "\\0" "\\n" < /proc/1/environ'] },
        expect: all(exits(0), never(new RegExp(CANARY_ENV))),
      },
    ],
  },
];
