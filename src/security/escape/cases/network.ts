/** Network: the host's loopback listener and any route out, under the no-network profile. */
import { all, exits, never, prints, refused, reports } from '../expect.js';
import type { EscapeCase } from '../types.js';
import { cpySockets } from './cpython.js';
import { jsBridges, PY_ROOT, SUCCESS } from './snippets.js';

const DENIED = all(never(SUCCESS, 'no CONNECTED'), prints(/DENIED/, 'every try DENIED'));

const PY_CONNECT = `import socket
for host, port in [("127.0.0.1", {{PORT}}), ("::1", {{PORT}}), ("192.0.2.1", 80)]:
    try:
        s = socket.create_connection((host, port), timeout=0.5)
        print("CONNECTED", host, s.recv(100))
    except Exception as e:
        print("DENIED", host, type(e).__name__)
try:
    import pyodide.http
    print("CONNECTED", pyodide.http.open_url("http://127.0.0.1:{{PORT}}/").read())
except Exception as e:
    print("DENIED open_url", type(e).__name__)
`;

/** bash's /dev/tcp and the usual clients (wget to stdout: where it connects it must not leave a file behind); the
 * interpreter of the wasm backend has none of them. */
const SH_CONNECT = `exec 3<>/dev/tcp/127.0.0.1/{{PORT}} && read -r line <&3 && echo "CONNECTED $line" || echo "DENIED /dev/tcp"
for c in curl "wget -q -O-" nc; do $c http://127.0.0.1:{{PORT}}/ 2>/dev/null && echo "CONNECTED $c" || echo "DENIED $c"; done`;

/** busybox in a container: its own loopback (the host's is another namespace), then a TEST-NET address. */
const BUSYBOX_CONNECT = `nc -w 2 127.0.0.1 {{PORT}} </dev/null && echo CONNECTED || echo "DENIED loopback"
wget -T 2 -q -O- http://127.0.0.1:{{PORT}}/ && echo CONNECTED || echo "DENIED wget"`;

/** A Wasm module that asks for a socket function outside WASI preview1. */
const SOCKET_IMPORT = `(module
  (import "wasi_snapshot_preview1" "sock_open" (func $open (param i32 i32 i32) (result i32)))
  (import "env" "connect" (func $connect (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start") (drop (call $connect (call $open (i32.const 1) (i32.const 1) (i32.const 0)) (i32.const 0) (i32.const 0)))))`;

export const NETWORK_CASES: EscapeCase[] = [
  {
    id: 'net-host-loopback',
    category: 'network',
    threat: "connect to a listener on the host's loopback (127.0.0.1), which answers with the canary",
    attempts: [
      {
        via: 'wasi', tries: 'import socket functions (sock_open, env.connect)',
        payload: { kind: 'module', wat: SOCKET_IMPORT },
        expect: refused('VALIDATION'),
      },
      {
        via: 'python', tries: 'socket.create_connection, pyodide.http.open_url',
        payload: { kind: 'code', language: 'python', code: PY_CONNECT },
        expect: DENIED,
      },
      {
        // under WASI create_connection already fails at getaddrinfo: a raw socket goes further
        via: 'python', tries: 'socket.socket().connect to 127.0.0.1 and ::1, bind/listen, lookups', only: ['hyperlight'],
        payload: { kind: 'code', language: 'python', code: cpySockets([['127.0.0.1', '{{PORT}}'], ['::1', '{{PORT}}']]) },
        expect: all(exits(0), DENIED),
      },
      {
        via: 'javascript', tries: 'fetch, XMLHttpRequest, WebSocket, require, std',
        payload: { kind: 'code', language: 'javascript', code: jsBridges("'/'") },
        expect: DENIED,
      },
      { via: 'shell', tries: '/dev/tcp, curl, wget, nc', payload: { kind: 'code', language: 'shell', code: SH_CONNECT }, expect: DENIED },
      { via: 'container', tries: 'nc and wget to 127.0.0.1', payload: { kind: 'argv', argv: ['sh', '-c', BUSYBOX_CONNECT] }, expect: DENIED },
    ],
  },
  {
    id: 'net-egress',
    category: 'network',
    threat: 'reach any network: interfaces besides loopback, a route to an outside address',
    attempts: [
      {
        via: 'python', tries: "the jail's /proc/net/dev through mountNodeFS", only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: `${PY_ROOT}
ifaces = sorted(l.split(":")[0].strip() for l in open(ROOT + "/proc/net/dev").read().splitlines()[2:])
print("ifaces=" + " ".join(ifaces))` },
        expect: all(exits(0), prints(/^ifaces=lo$/m, 'only lo')),
      },
      {
        via: 'python', tries: 'socket.if_nameindex, connect to 192.0.2.1:80, bind/listen, lookups', only: ['hyperlight'],
        payload: { kind: 'code', language: 'python', code: cpySockets([['192.0.2.1', 80]]) },
        expect: all(exits(0), DENIED),
      },
      {
        via: 'container', tries: 'list interfaces, nc to 192.0.2.1',
        payload: { kind: 'argv', argv: ['sh', '-c', 'echo "ifaces=$(ls /sys/class/net | tr "\\n" " ")"; nc -w 2 192.0.2.1 80 </dev/null && echo CONNECTED || echo DENIED'] },
        expect: all(prints(/^ifaces=lo $/m, 'only lo'), reports(/unreachable/i, 'network unreachable'), never(SUCCESS)),
      },
    ],
  },
];
