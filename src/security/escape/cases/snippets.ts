/**
 * Guest code shared by the cases. Every snippet reports each try on its own line: `READ`/`WROTE`/`CONNECTED`
 * when it succeeded (so an expectation can forbid those words), `DENIED <why>` when it was refused.
 */

/** Python: `tryit(label, f)` prints `label result` when f succeeds, `DENIED <exception> <errno>` when refused. */
export const PY_TRY = `def tryit(label, f):
    try:
        out = f()
        print(label, out if out is not None else "")
    except Exception as e:
        print("DENIED", type(e).__name__, getattr(e, "errno", ""))
`;

/** Python: mount the jail's (or host's) root through Pyodide's bridge to node's fs, the widest door Python has. */
export const PY_ROOT = `import os, pyodide_js
ROOT = "/jail{{MARKER}}"
pyodide_js.mountNodeFS(ROOT, "/")
${PY_TRY}`;

/** Python: read each path directly (Pyodide's own file system) and through the node fs bridge. */
export const pyRead = (...paths: string[]): string => `${PY_ROOT}
for p in ${JSON.stringify(paths)}:
    tryit("READ", lambda: open(p).read())
    tryit("READ", lambda: open(ROOT + p).read())
`;

/**
 * Python: create a file at each host path, directly and through the bridge, and at each jail path through the
 * bridge only (directly it would land in Pyodide's private in-memory file system, which is the guest's own).
 */
export const pyWrite = (hostPaths: string[], jailPaths: string[]): string => `${PY_ROOT}
for p in ${JSON.stringify(hostPaths)}:
    tryit("WROTE", lambda: open(p, "w").write("x"))
for p in ${JSON.stringify([...hostPaths, ...jailPaths])}:
    tryit("WROTE", lambda: open(ROOT + p, "w").write("x"))
`;

/**
 * Python: write 300 MiB in 1 MiB chunks to a new file in each directory. `dirs` are Python expressions (so a
 * snippet may build them from its own variables); `head` imports os and sets those up.
 */
export const pyFill = (head: string, dirs: string[]): string => `${head}
for d in [${dirs.join(', ')}]:
    try:
        with open(d.rstrip("/") + "/fill-{{MARKER}}", "wb") as f:
            for i in range(300):
                f.write(b"x" * (1 << 20))
        print("WROTE", d)
    except Exception as e:
        print("DENIED", d, type(e).__name__)`;

/** Python: os.open the file at `path` (a Python expression) until refused; `WROTE no limit` if never. */
export const pyFdFlood = (head: string, path: string): string => `${head}
n = 0
try:
    while n < 100000:
        os.open(${path}, os.O_RDONLY)
        n += 1
    print("WROTE no limit")
except OSError as e:
    print("DENIED after", n, type(e).__name__)`;

/** Shell (both the interpreter of the wasm backend and busybox sh): cat each path. */
export const shRead = (...paths: string[]): string =>
  paths.map((p) => `if cat "${p}" 2>/dev/null; then echo READ; else echo "DENIED ${p}"; fi`).join('\n');

export const shWrite = (...paths: string[]): string =>
  paths.map((p) => `if echo x 2>/dev/null > "${p}"; then echo WROTE; else echo "DENIED ${p}"; fi`).join('\n');

/** JavaScript (QuickJS): every host API a script might hope for. None should exist. */
export const jsBridges = (action: string): string => `
const tries = {
  std: () => std.loadFile(${action}),
  os: () => os.open(${action}, 0),
  require: () => require('fs').readFileSync(${action}, 'utf8'),
  process: () => process.binding('fs'),
  fetch: () => fetch('http://127.0.0.1:{{PORT}}/'),
  XMLHttpRequest: () => new XMLHttpRequest(),
  WebSocket: () => new WebSocket('ws://127.0.0.1:{{PORT}}/'),
};
for (const [k, f] of Object.entries(tries)) {
  try { const v = f(); console.log('READ', k, String(v)); } catch (e) { console.log('DENIED', k, e && e.name); }
}
import('fs').then(() => console.log('READ import fs'), (e) => console.log('DENIED import', e && e.name));
`;

/** Neither of these words may appear: the guest managed something it must not. */
export const SUCCESS = /^(READ|WROTE|CONNECTED|SIGNALLED|HOSTPID)\b/m;
