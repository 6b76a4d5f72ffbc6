#!/usr/bin/env node
// Builds the KVM micro-VM engine (native/vmm, binding.gyp) with node-gyp. Run by `npm install`; it never fails the
// installation: where the engine cannot be built (not Linux x86-64, no compiler, no headers) it prints one line,
// records why in build/native-unavailable.txt, and exits 0. The `hyperlight` backend then reports itself
// unavailable with that reason.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const marker = join(root, 'build', 'native-unavailable.txt');

function unavailable(reason) {
  mkdirSync(dirname(marker), { recursive: true });
  writeFileSync(marker, `${reason}\n`);
  console.warn(`agentkernel: the KVM micro-VM engine was not built (${reason}); the hyperlight backend is unavailable`);
  process.exit(0);
}

if (process.platform !== 'linux' || process.arch !== 'x64') unavailable(`needs Linux on x86-64, this is ${process.platform}/${process.arch}`);

const gyp = join(root, 'node_modules', '.bin', 'node-gyp');
if (!existsSync(gyp)) unavailable('node-gyp is not installed');

// Use the headers next to this Node binary when they are there (distribution packages, official tarballs):
// node-gyp would otherwise try to download them.
// configure + build, not rebuild: rebuild's clean step deletes build/, where the compiled guests are kept
const args = ['configure', 'build'];
const prefix = join(dirname(process.execPath), '..');
if (existsSync(join(prefix, 'include', 'node', 'node_api.h')) && existsSync(join(prefix, 'include', 'node', 'common.gypi'))) {
  args.push(`--nodedir=${prefix}`);
}
if (process.env.AGENTKERNEL_NATIVE_DEBUG) args.push('--debug');

const r = spawnSync(gyp, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
if (r.error) unavailable(`node-gyp could not start: ${r.error.message}`);
if (r.status !== 0) unavailable(`node-gyp configure build failed with exit code ${r.status}`);
rmSync(marker, { force: true });
