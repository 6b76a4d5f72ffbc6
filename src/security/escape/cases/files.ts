/** Host files: read what is not mounted, write outside the sandbox. */
import { all, exits, never, prints } from '../expect.js';
import type { Attempt, EscapeCase } from '../types.js';
import { jsBridges, pyRead, pyWrite, shRead, shWrite, SUCCESS } from './snippets.js';

/** A WASI path_open refused: exit 1 after printing the errno. */
const WASI_REFUSED = all(exits(1), prints(/^errno \d+$/m, 'a WASI errno'));
const DENIED = all(never(SUCCESS, 'no READ/WROTE'), prints(/DENIED/, 'every try DENIED'));

/** The same read tried from every kind of guest. `wasiPaths` are given to path_open on a read-only preopen. */
function readEverywhere(path: string, wasiPaths: string[]): Attempt[] {
  return [
    ...wasiPaths.map((p): Attempt => ({
      via: 'wasi', tries: `path_open("${p}") on a preopen`, payload: { kind: 'probe', op: 'read', arg: p, mount: 'data' }, expect: WASI_REFUSED,
    })),
    {
      via: 'python', tries: 'open() directly and through pyodide_js.mountNodeFS("/")',
      payload: { kind: 'code', language: 'python', code: pyRead(path) },
      expect: DENIED,
    },
    {
      via: 'javascript', tries: 'std/os/require/process/import',
      payload: { kind: 'code', language: 'javascript', code: jsBridges(JSON.stringify(path)) },
      expect: DENIED,
    },
    { via: 'shell', tries: 'cat', payload: { kind: 'code', language: 'shell', code: shRead(path) }, expect: DENIED },
    { via: 'container', tries: 'cat', payload: { kind: 'argv', argv: ['sh', '-c', shRead(path)] }, expect: DENIED },
  ];
}

export const FILE_CASES: EscapeCase[] = [
  {
    id: 'read-etc-shadow',
    category: 'host files',
    threat: "read the host's /etc/shadow",
    attempts: readEverywhere('/etc/shadow', ['/etc/shadow', '../../../../../../etc/shadow']),
  },
  {
    id: 'read-host-tmp',
    category: 'host files',
    threat: "read a file in the host's temp directory (not mounted), also through a symlink planted in a mount",
    attempts: [
      ...readEverywhere('{{TMP_SECRET}}', ['{{TMP_SECRET}}', 'link', 'linkdir/../escape-secret.txt']),
    ],
  },
  {
    id: 'read-home',
    category: 'host files',
    threat: "read a file in the user's home directory",
    attempts: readEverywhere('{{HOME_SECRET}}', ['{{HOME_SECRET}}']),
  },
  {
    id: 'read-project',
    category: 'host files',
    threat: 'read a file in the project directory (the working directory, not mounted)',
    attempts: readEverywhere('{{PROJECT_SECRET}}', ['{{PROJECT_SECRET}}']),
  },
  {
    id: 'write-outside',
    category: 'host files',
    threat: 'create a file outside the sandbox (beside a read-write mount, through a symlink, by absolute path)',
    attempts: [
      ...['../outside/escaped', 'linkdir/escaped', '{{OUTSIDE}}/escaped'].map((p): Attempt => ({
        via: 'wasi', tries: `create "${p}" from a read-write preopen`, payload: { kind: 'probe', op: 'create', arg: p, mount: 'data-rw' },
        expect: WASI_REFUSED, host: { outsideUnchanged: true },
      })),
      {
        via: 'python', tries: 'open(..., "w") directly and through mountNodeFS("/"), also into the jail root',
        payload: { kind: 'code', language: 'python', code: pyWrite(['{{OUTSIDE}}/escaped'], ['/escaped-{{MARKER}}', '/tmp/escaped-{{MARKER}}', '/dev/escaped-{{MARKER}}']) },
        expect: DENIED,
        host: { outsideUnchanged: true },
      },
      // the interpreter's file system is its own (in memory): a write may succeed there; the host must not change
      {
        via: 'shell', tries: 'echo >',
        payload: { kind: 'code', language: 'shell', code: shWrite('{{OUTSIDE}}/escaped') },
        expect: exits(0),
        host: { outsideUnchanged: true },
      },
      {
        via: 'container', tries: 'echo > host path, touch the read-only root',
        payload: { kind: 'argv', argv: ['sh', '-c', shWrite('{{OUTSIDE}}/escaped', '/etc/escaped')] },
        expect: DENIED, host: { outsideUnchanged: true },
      },
    ],
  },
];
