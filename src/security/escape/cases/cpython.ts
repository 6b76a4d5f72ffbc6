/**
 * Guest code for CPython under WASI (the hyperlight backend's Python). It has no bridge to the host's file system:
 * its only doors are the WASI preopens (`/` empty and read-only, the standard library read-only, the run's mounts)
 * and whatever socket calls wasi-libc keeps. Each snippet pushes on those doors: host paths as they are, `..` out
 * of every preopen, symlinks planted in (or made in) a mount, sockets. Lines read as in snippets.ts.
 */
import { GUEST_STDLIB } from '../../../backends/hyperlight/code/cpython-build.js';
import { MOUNT_PATH } from '../types.js';
import { PY_TRY } from './snippets.js';

const HEAD = `import os\n${PY_TRY}`;
const UP = '/..'.repeat(8);

/** A host path as the guest might name it: directly, and by `..` from `/`, the standard library, the mount, the cwd. */
export const outOfPreopens = (hostPath: string): string[] =>
  [hostPath, `/..${hostPath}`, `${GUEST_STDLIB}${UP}${hostPath}`, `${MOUNT_PATH}${UP}${hostPath}`, `../../..${hostPath}`];

/** Read each path; first the mount's own `f.txt` (`OK harmless`), which shows the mount the paths lean on is there. */
export const cpyRead = (paths: string[]): string => `${HEAD}
tryit("OK", lambda: open("${MOUNT_PATH}/f.txt").read().strip())
for p in ${JSON.stringify(paths)}:
    tryit("READ", lambda: open(p).read())
`;

/**
 * Create a file at each path; then, from the read-write mount, make a symlink to {{OUTSIDE}} (absolute and by `..`)
 * and write through it, and rename and hard-link a file of the mount out of it. A link made or a file moved counts
 * as WROTE. First a file is written in the mount itself (`OK`), which shows writes are possible at all.
 */
export const cpyWrite = (paths: string[]): string => `${HEAD}
MINE = "${MOUNT_PATH}/ok-{{MARKER}}"
tryit("OK", lambda: open(MINE, "w").write("x"))
for p in ${JSON.stringify(paths)}:
    tryit("WROTE", lambda: open(p, "w").write("x"))
for target in ["{{OUTSIDE}}", "../outside"]:
    link = "${MOUNT_PATH}/out-{{MARKER}}"
    tryit("WROTE symlink", lambda: os.symlink(target, link))
    tryit("WROTE", lambda: open(link + "/escaped", "w").write("x"))
    if os.path.lexists(link):
        os.unlink(link)
tryit("WROTE hard link", lambda: os.link(MINE, "${MOUNT_PATH}/../outside/escaped"))
tryit("WROTE renamed", lambda: os.rename(MINE, "${MOUNT_PATH}/../outside/escaped"))
if os.path.lexists(MINE):
    os.unlink(MINE)
`;

/**
 * Every socket call wasi-libc might keep: a raw connect to each (host, port), bind and listen, name lookups and the
 * interface list. Any that succeeds prints CONNECTED.
 */
export const cpySockets = (targets: Array<[string, number | string]>): string => `import socket
${PY_TRY}
def connect(host, port):
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect((host, port))
    return s.recv(100)
for host, port in [${targets.map(([h, p]) => `("${h}", ${p})`).join(', ')}]:
    tryit("CONNECTED", lambda: connect(host, port))
    tryit("CONNECTED", lambda: socket.create_connection((host, port), timeout=1).recv(100))
def listen():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    return s.getsockname()
tryit("CONNECTED listening", listen)
tryit("CONNECTED resolved", lambda: socket.getaddrinfo("localhost", 80))
tryit("CONNECTED resolved", lambda: socket.gethostbyname("localhost"))
tryit("CONNECTED interfaces", lambda: socket.if_nameindex())
`;

/** The run's environment only (none is given, so nothing of the host's), and no /proc to read the host's from. */
export const CPY_ENV = `${HEAD}
print("environ", dict(os.environ))
print("getenv", os.getenv("{{ENV_NAME}}"))
for p in ["/proc/self/environ", "/proc/1/environ"]:
    for q in ${JSON.stringify(['', '/..', `${GUEST_STDLIB}${UP}`])}:
        tryit("READ", lambda: open(q + p, "rb").read())
`;

/** Interpreter state an earlier run could leave for the next caller: builtins, globals, modules, environment, path. */
export const CPY_RESIDUE_PLANT = `import os, sys, types, builtins, json
builtins.residue = "{{TOKEN}}"
os.environ["RESIDUE"] = "{{TOKEN}}"
sys.modules["residue_{{MARKER}}"] = types.ModuleType("{{TOKEN}}")
sys.path.insert(0, "/{{TOKEN}}")
json.residue = "{{TOKEN}}"
SECRET = "{{TOKEN}}"`;

/** Prints `residue None None None None [] []` when none of CPY_RESIDUE_PLANT's changes survived. */
export const CPY_RESIDUE_LOOK = `import os, sys, builtins, json
print("residue", getattr(builtins, "residue", None), os.environ.get("RESIDUE"), globals().get("SECRET"),
      getattr(json, "residue", None), [m for m in sys.modules if "residue" in m], [p for p in sys.path if "token" in p])`;
