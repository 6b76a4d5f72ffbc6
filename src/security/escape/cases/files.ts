/** Host files: read what is not mounted, write outside the sandbox. */
import { GUEST_STDLIB } from '../../../backends/hyperlight/code/cpython-build.js';
import { all, exits, never, prints } from '../expect.js';
import { MOUNT_PATH, type Attempt, type EscapeCase } from '../types.js';
import { cpyRead, cpyWrite, outOfPreopens } from './cpython.js';
import { jsBridges, pyRead, pyWrite, shRead, shWrite, SUCCESS } from './snippets.js';

/** A WASI path_open refused: exit 1 after printing the errno. */
const WASI_REFUSED = all(exits(1), prints(/^errno \d+$/m, 'a WASI errno'));
const DENIED = all(never(SUCCESS, 'no READ/WROTE'), prints(/DENIED/, 'every try DENIED'));
/** CPython under WASI: every try DENIED, after the control try in the mount worked (`OK ...`). */
const CPY_DENIED = (control: RegExp) => all(exits(0), prints(control, 'the mount itself works'), DENIED);

/**
 * The same read tried from every kind of guest. `wasiPaths` are given to path_open on a read-only preopen; CPython
 * under WASI tries the relative ones from its mount too.
 */
function readEverywhere(path: string, wasiPaths: string[]): Attempt[] {
  const fromMount = wasiPaths.filter((p) => !p.startsWith('/') && !p.startsWith('{{')).map((p) => `${MOUNT_PATH}/${p}`);
  return [
    ...wasiPaths.map((p): Attempt => ({
      via: 'wasi', tries: `path_open("${p}") on a preopen`, payload: { kind: 'probe', op: 'read', arg: p, mount: 'data' }, expect: WASI_REFUSED,
    })),
    {
      via: 'python', tries: 'open() directly and through pyodide_js.mountNodeFS("/")', only: ['wasm'],
      payload: { kind: 'code', language: 'python', code: pyRead(path) },
      expect: DENIED,
    },
    {
      via: 'python', tries: `open() directly, by .. from /, the stdlib, the mount and the cwd${fromMount.length ? ', through the mount\'s symlinks' : ''}`,
      only: ['hyperlight'],
      payload: { kind: 'code', language: 'python', code: cpyRead([...outOfPreopens(path), ...fromMount]), mount: 'data' },
      expect: CPY_DENIED(/^OK harmless$/m),
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
        via: 'python', tries: 'open(..., "w") directly and through mountNodeFS("/"), also into the jail root', only: ['wasm'],
        payload: { kind: 'code', language: 'python', code: pyWrite(['{{OUTSIDE}}/escaped'], ['/escaped-{{MARKER}}', '/tmp/escaped-{{MARKER}}', '/dev/escaped-{{MARKER}}']) },
        expect: DENIED,
        host: { outsideUnchanged: true },
      },
      {
        via: 'python', tries: 'open(..., "w") beside the mount, through its symlink, into / and the stdlib; symlink, link, rename out',
        only: ['hyperlight'],
        payload: {
          kind: 'code', language: 'python', mount: 'data-rw',
          code: cpyWrite([
            '{{OUTSIDE}}/escaped', '/..{{OUTSIDE}}/escaped', `${MOUNT_PATH}/../outside/escaped`, `${MOUNT_PATH}/linkdir/escaped`,
            '/escaped-{{MARKER}}', `${GUEST_STDLIB}/escaped-{{MARKER}}`, '/tmp/escaped-{{MARKER}}',
          ]),
        },
        expect: CPY_DENIED(/^OK 1$/m),
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
