/**
 * A stand-in for Apple's `container` CLI, for machines that cannot run the real one: a Node script that records
 * every argv it is given, keeps containers in a JSON file, answers `ls --format json` and `inspect` in the 1.x
 * JSON shape (or the pre-1.0 one), and runs `exec`'d commands as host processes. It proves what the backend
 * sends and how it reads the answers; it isolates nothing.
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SCRIPT = String.raw`
const fs = require('fs');
const { spawnSync } = require('child_process');
const dir = process.env.FAKE_APPLE_DIR;
const args = process.argv.slice(2);
fs.appendFileSync(dir + '/calls.jsonl', JSON.stringify(args) + '\n');
const dbFile = dir + '/db.json';
const db = fs.existsSync(dbFile) ? JSON.parse(fs.readFileSync(dbFile, 'utf8')) : {};
const save = () => fs.writeFileSync(dbFile, JSON.stringify(db));
const legacy = process.env.FAKE_APPLE_LEGACY === '1';
const fail = (msg) => { process.stderr.write('Error: ' + msg + '\n'); process.exit(1); };
const afterDashes = () => args.slice(args.indexOf('--') + 1);
const view = (c) => legacy ? { status: c.state, configuration: c.configuration } : { id: c.configuration.id, configuration: c.configuration, status: { state: c.state } };
const [cmd, sub] = args;
if (cmd === '--version') { console.log('container CLI version 1.1.0 (build: release, commit: abc1234)'); process.exit(0); }
if (cmd === 'system' && sub === 'status') {
  if (fs.existsSync(dir + '/service-down')) fail('apiserver is not running and not registered with launchd');
  console.log('apiserver is running'); process.exit(0);
}
if (cmd === 'image' && sub === 'inspect') {
  const image = afterDashes()[0];
  if (image.startsWith('missing')) fail('notFound: "image ' + image + ' not found"');
  console.log(JSON.stringify([{ name: image }])); process.exit(0);
}
if (cmd === 'run') {
  const cfg = { labels: {}, networks: [{ network: 'default' }], mounts: [], resources: { cpus: 4, memoryInBytes: 1073741824 }, runtimeHandler: 'container-runtime-linux' };
  let i = 1;
  for (; args[i] !== '--'; i++) {
    const a = args[i], v = args[i + 1];
    if (a === '--name') { cfg.id = v; i++; }
    else if (a === '--label') { const k = v.slice(0, v.indexOf('=')); cfg.labels[k] = v.slice(k.length + 1); i++; }
    else if (a === '--network') { cfg.networks = v === 'none' ? [] : [{ network: v }]; i++; }
    else if (a === '--tmpfs') { cfg.mounts.push({ type: { tmpfs: {} }, source: '', destination: v, options: [] }); i++; }
    else if (a === '--memory') { cfg.resources.memoryInBytes = parseInt(v, 10) * 1048576; i++; }
    else if (a === '--cpus') { cfg.resources.cpus = Number(v); i++; }
    else if (a === '--mount') { const f = Object.fromEntries(v.split(',').map((x) => x.split('='))); cfg.mounts.push({ type: { virtiofs: {} }, source: f.source, destination: f.target, options: 'readonly' in f ? ['ro'] : [] }); i++; }
    else if (a === '--read-only') cfg.readOnly = true;
    else if (a === '--user' || a === '--env' || a === '--entrypoint') i++;
    else if (a !== '--detach' && a !== '--rm') fail('Unknown option ' + a);
  }
  cfg.image = { reference: args[i + 1] };
  if (db[cfg.id]) fail('container with id ' + cfg.id + ' already exists');
  db[cfg.id] = { state: 'running', configuration: cfg }; save();
  console.log(cfg.id); process.exit(0);
}
if (cmd === 'ls') { console.log(JSON.stringify(Object.values(db).filter((c) => args.includes('--all') || c.state === 'running').map(view))); process.exit(0); }
if (cmd === 'inspect') {
  const name = afterDashes()[0];
  if (!db[name]) fail('notFound: "container ' + name + ' not found"');
  console.log(JSON.stringify([view(db[name])])); process.exit(0);
}
if (cmd === 'stop' || cmd === 'start' || cmd === 'delete') {
  const name = afterDashes()[0];
  if (!db[name]) fail('notFound: "container ' + name + ' not found"');
  if (cmd === 'delete') delete db[name]; else db[name].state = cmd === 'stop' ? 'stopped' : 'running';
  save(); console.log(name); process.exit(0);
}
if (cmd === 'exec') {
  const rest = afterDashes();
  const c = db[rest[0]];
  if (!c) fail('notFound: "container ' + rest[0] + ' not found"');
  if (c.state !== 'running') fail('invalidState: "container ' + rest[0] + ' is not running"');
  const r = spawnSync(rest[1], rest.slice(2), { stdio: 'inherit' });
  process.exit(r.status === null ? 137 : r.status);
}
fail('fake container CLI: unknown command ' + JSON.stringify(args));
`;

export interface FakeCli {
  binary: string;
  /** Every argv the CLI was given, in order. */
  calls(): string[][];
  /** Forget recorded calls. */
  reset(): void;
}

/** Install the fake into `dir` (its state lives there too) and point it there through FAKE_APPLE_DIR. */
export function installFakeCli(dir: string): FakeCli {
  const binary = join(dir, 'container');
  writeFileSync(binary, `#!${process.execPath}\n${SCRIPT}`);
  chmodSync(binary, 0o755);
  process.env.FAKE_APPLE_DIR = dir;
  const log = join(dir, 'calls.jsonl');
  writeFileSync(log, '');
  return {
    binary,
    calls: () => readFileSync(log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as string[]),
    reset: () => writeFileSync(log, ''),
  };
}
