/**
 * Exhausting the host: fork bombs, memory bombs, disk fill, output and descriptor floods, outliving a timeout.
 * Besides the guest's own result, each checks the host afterwards: no process of the attempt left, and the
 * backend still runs a guest.
 */
import { GUEST_STDLIB } from '../../../backends/hyperlight/code/cpython-build.js';
import { EXIT } from '../../../core/types.js';
import { all, exits, expectation, memoryLimit, never, outputCapped, prints, reports, timesOut } from '../expect.js';
import { MOUNT_PATH, type EscapeCase, type HostChecks } from '../types.js';
import { PY_ROOT, pyFdFlood, pyFill, SUCCESS } from './snippets.js';

const AFTER: HostChecks = { noProcessesLeft: true, recovers: true };
const FLOOD_BYTES = 64 * 1024;
/** Any ending at all: what matters is checked on the host. */
const ENDS = expectation('the run ends (any exit code)', (o) => (o.result ? undefined : `expected a result, got ${o.error?.name}: ${o.error?.message}`));

/** The probe's `capped N`: N pages at most the cap (16 pages per MiB). */
const grewAtMost = (mb: number) => expectation(`memory.grow refused at ${mb} MiB (capped N <= ${mb * 16} pages), exit 0`, (o) => {
  const m = /^capped (\d+)$/m.exec(o.result?.stdout ?? '');
  if (o.result?.exitCode !== 0 || !m) return `expected "capped N" and exit 0, got ${o.error?.message ?? JSON.stringify(o.result?.stdout)}`;
  return Number(m[1]) <= mb * 16 ? undefined : `grew to ${m[1]} pages, past the ${mb} MiB cap`;
});

export const EXHAUSTION_CASES: EscapeCase[] = [
  {
    id: 'fork-bomb',
    category: 'exhaustion',
    threat: 'fork bomb',
    attempts: [
      {
        via: 'python', tries: 'os.fork() in a loop',
        payload: { kind: 'code', language: 'python', code: 'import os\nfor i in range(1000):\n    os.fork()' },
        // Pyodide's os.fork refuses (OSError); CPython for WASI has none at all
        expect: all(exits(EXIT.EXCEPTION), reports(/OSError|AttributeError: module 'os' has no attribute 'fork'/, 'OSError, or no os.fork')),
        host: AFTER,
      },
      {
        via: 'shell', tries: ':(){ :|:& };:',
        payload: { kind: 'code', language: 'shell', code: ':(){ :|:& };:' },
        timeoutMs: 3000,
        expect: ENDS,
        host: AFTER,
      },
      {
        via: 'container', tries: 'f(){ f|f& }; f under the pids limit', timeoutMs: 2000,
        payload: { kind: 'argv', argv: ['sh', '-c', 'f(){ f|f& }; f; sleep 60; echo {{MARKER}}'] }, expect: ENDS, host: AFTER,
      },
    ],
  },
  {
    id: 'memory-bomb',
    category: 'exhaustion',
    threat: 'allocate without bound (32 MiB cap)',
    attempts: [
      {
        via: 'wasi', tries: 'memory.grow 16 pages at a time until refused', memoryMb: 32,
        payload: { kind: 'probe', op: 'growLoop' },
        expect: grewAtMost(32),
        host: AFTER,
      },
      {
        via: 'python', tries: 'append 1 MiB bytearrays forever', memoryMb: 32,
        payload: { kind: 'code', language: 'python', code: 'x = []\nwhile True:\n    x.append(bytearray(1 << 20))' },
        expect: memoryLimit(),
        host: AFTER,
      },
      {
        via: 'javascript', tries: 'push arrays forever', memoryMb: 32,
        payload: { kind: 'code', language: 'javascript', code: 'const a = []; for (;;) a.push(new Array(1e5).fill(1.5));' },
        expect: memoryLimit(),
        host: AFTER,
      },
      {
        via: 'shell', tries: 'double a string forever', memoryMb: 32, timeoutMs: 5000,
        payload: { kind: 'code', language: 'shell', code: 's=xxxxxxxxxxxxxxxx; while true; do s="$s$s"; done' },
        expect: ENDS,
        host: AFTER,
      },
      {
        via: 'container', tries: 'dd with a 300 MB buffer', memoryMb: 32,
        payload: { kind: 'argv', argv: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=300M count=1 2>/dev/null; echo "dd=$? {{MARKER}}"'] },
        expect: prints(/^dd=137 /m, 'dd is killed at the cap (137)'), host: AFTER,
      },
    ],
  },
  {
    id: 'disk-fill',
    category: 'exhaustion',
    threat: 'fill a disk or a RAM-backed temp directory',
    attempts: [
      {
        via: 'python', tries: "write 1 MiB chunks to its in-memory /tmp", memoryMb: 32, only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: 'f = open("/tmp/fill", "wb")\nwhile True:\n    f.write(b"x" * (1 << 20))' },
        expect: memoryLimit(),
        host: AFTER,
      },
      {
        via: 'python', tries: "write 1 MiB chunks to the jail's own tmpfs (/tmp, /dev, /) through mountNodeFS", only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: pyFill(PY_ROOT, ['ROOT + "/tmp"', 'ROOT + "/dev"', 'ROOT + "/dev/shm"', 'ROOT']) },
        expect: all(never(SUCCESS, 'no WROTE'), prints(/DENIED/)), host: AFTER,
      },
      {
        // every writable place is a mount the caller gave: none here, so nowhere to fill
        via: 'python', tries: 'write 1 MiB chunks under /, /tmp, the stdlib, and beside a read-write mount', only: ['hyperlight'],
        payload: {
          kind: 'code', language: 'python', mount: 'data-rw',
          code: pyFill('import os', ['"/"', '"/tmp"', `"${GUEST_STDLIB}"`, '"/usr/local/lib"', `"${MOUNT_PATH}/.."`]),
        },
        expect: all(exits(0), never(SUCCESS, 'no WROTE'), prints(/DENIED/)), host: AFTER,
      },
      {
        via: 'container', tries: 'dd 200 MB into /tmp (a 64 MiB tmpfs) and into the read-only root',
        payload: {
          kind: 'argv',
          argv: ['sh', '-c', 'dd if=/dev/zero of=/tmp/fill bs=1M count=200 2>&1; echo "size=$(wc -c < /tmp/fill)"; dd if=/dev/zero of=/fill bs=1M count=1 2>&1'],
        },
        expect: all(reports(/No space left on device/), reports(/Read-only file system/), expectation('at most 64 MiB landed', (o) => {
          const m = /^size=(\d+)$/m.exec(o.result?.stdout ?? '');
          return m && Number(m[1]) <= 64 * 1024 * 1024 ? undefined : `size ${m?.[1] ?? '?'}`;
        })),
        host: AFTER,
      },
    ],
  },
  {
    id: 'output-flood',
    category: 'exhaustion',
    threat: 'flood stdout (1 GiB, or without end) to exhaust the host\'s memory',
    attempts: [
      {
        via: 'wasi', tries: '1 GiB in 64 KiB writes', timeoutMs: 2000, outputBytes: FLOOD_BYTES,
        payload: { kind: 'probe', op: 'flood' },
        expect: outputCapped(FLOOD_BYTES),
        host: AFTER,
      },
      {
        via: 'python', tries: 'print 64 KiB lines forever', timeoutMs: 1500, outputBytes: FLOOD_BYTES,
        payload: { kind: 'code', language: 'python', code: 'while True:\n    print("x" * 65536)' },
        expect: outputCapped(FLOOD_BYTES),
        host: AFTER,
      },
      {
        via: 'javascript', tries: 'console.log 64 KiB lines forever', timeoutMs: 1500, outputBytes: FLOOD_BYTES,
        payload: { kind: 'code', language: 'javascript', code: 'const s = "x".repeat(65536); for (;;) console.log(s);' },
        expect: outputCapped(FLOOD_BYTES),
        host: AFTER,
      },
      {
        via: 'shell', tries: 'echo in an endless loop', timeoutMs: 1500, outputBytes: FLOOD_BYTES,
        payload: { kind: 'code', language: 'shell', code: `while true; do echo ${'x'.repeat(100)}; done` },
        expect: outputCapped(FLOOD_BYTES),
        host: AFTER,
      },
      {
        via: 'container', tries: 'yes | head -c 100 MB', outputBytes: FLOOD_BYTES,
        payload: { kind: 'argv', argv: ['sh', '-c', 'yes xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx | head -c 100000000; : {{MARKER}}'] },
        expect: outputCapped(FLOOD_BYTES),
        host: AFTER,
      },
    ],
  },
  {
    id: 'fd-flood',
    category: 'exhaustion',
    threat: 'open file descriptors without bound',
    attempts: [
      {
        via: 'wasi', tries: 'path_open(".") until refused',
        payload: { kind: 'probe', op: 'fdFlood', mount: 'data' },
        expect: all(exits(0), prints(/^opened \d+\nerrno \d+$/m, 'opened N, then a WASI errno')),
        host: AFTER,
      },
      {
        via: 'python', tries: 'os.open through mountNodeFS until refused', only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: pyFdFlood(PY_ROOT, 'ROOT + "/proc/self/status"') },
        expect: all(exits(0), prints(/^DENIED after \d+/m)), host: AFTER,
      },
      {
        via: 'python', tries: 'os.open of a stdlib file until refused', only: ['hyperlight'],
        payload: { kind: 'code', language: 'python', code: pyFdFlood('import os', `"${GUEST_STDLIB}/os.py"`) },
        expect: all(exits(0), prints(/^DENIED after \d+/m)), host: AFTER,
      },
    ],
  },
  {
    id: 'outlive-timeout',
    category: 'exhaustion',
    threat: 'keep running past the timeout (500 ms), or leave processes behind',
    attempts: [
      { via: 'wasi', tries: 'a loop without calls', timeoutMs: 500, payload: { kind: 'probe', op: 'spin' }, expect: timesOut(), host: AFTER },
      {
        via: 'python', tries: 'while True: pass', timeoutMs: 500,
        payload: { kind: 'code', language: 'python', code: 'while True:\n    pass' },
        expect: timesOut(),
        host: AFTER,
      },
      {
        via: 'javascript', tries: 'for (;;) {}', timeoutMs: 500,
        payload: { kind: 'code', language: 'javascript', code: 'for (;;) {}' },
        expect: timesOut(),
        host: AFTER,
      },
      {
        via: 'shell', tries: 'while true; do :; done', timeoutMs: 500,
        payload: { kind: 'code', language: 'shell', code: 'while true; do :; done' },
        expect: timesOut(),
        host: AFTER,
      },
      {
        via: 'container', tries: 'background and foreground sleeps', timeoutMs: 1000,
        payload: { kind: 'argv', argv: ['sh', '-c', 'sh -c "sleep 600; echo {{MARKER}}" & sh -c "sleep 600; echo {{MARKER}}"'] },
        expect: timesOut(), host: AFTER,
      },
    ],
  },
];
