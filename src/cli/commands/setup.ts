/**
 * `agentkernel setup`: prepare what can be prepared ahead of the first run and say exactly what is missing.
 * Each step is real work (building the micro-VM engine, making the Python snapshot, compiling a first guest);
 * a step that cannot run here prints why and what to install, and setup goes on with the next.
 */
import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AgentKernel } from '../../service/kernel.js';
import { runAction } from '../action.js';
import { packageRoot } from '../../backends/hyperlight/toolchain.js';

const HELLO_WAT = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "ok\\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16)) (i32.store (i32.const 4) (i32.const 3))
    (drop (call $w (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))`;

type Step = { title: string; run: (k: AgentKernel) => Promise<string> };

function line(status: 'ok' | 'missing' | 'failed', title: string, detail: string): void {
  const mark = status === 'ok' ? 'ok     ' : status === 'missing' ? 'missing' : 'failed ';
  process.stdout.write(`[${mark}] ${title}${detail ? `: ${detail}` : ''}\n`);
}

const STEPS: Step[] = [
  {
    title: 'micro-VM engine (native addon)',
    run: async () => {
      const root = packageRoot();
      const addon = join(root, 'build', 'Release', 'agentkernel_vmm.node');
      if (!existsSync(addon)) {
        process.stderr.write('building the micro-VM engine with node-gyp...\n');
        spawnSync(process.execPath, [join(root, 'scripts', 'build-native.mjs')], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] });
      }
      const marker = join(root, 'build', 'native-unavailable.txt');
      if (!existsSync(addon)) throw new Error(existsSync(marker) ? readFileSync(marker, 'utf8').trim() : 'the addon was not built');
      return addon;
    },
  },
  {
    title: 'backend hyperlight (/dev/kvm, wasm2c, gcc): first guest compiled and run',
    run: async (k) => {
      const r = await k.runWasm({ backend: 'hyperlight', module: HELLO_WAT });
      if (r.stdout !== 'ok\n') throw new Error(`the test guest printed ${JSON.stringify(r.stdout)} (exit ${r.exitCode})`);
      return 'a WASI program ran in a micro-VM';
    },
  },
  {
    title: 'backend wasm: JavaScript runtime',
    run: async (k) => {
      const r = await k.runCode('javascript', 'console.log(6*7)', { backend: 'wasm' });
      if (r.stdout !== '42\n') throw new Error(`printed ${JSON.stringify(r.stdout)}`);
      return 'QuickJS ready';
    },
  },
  {
    title: 'backend wasm: Python snapshot',
    run: async (k) => {
      const r = await k.runCode('python', 'print(6*7)', { backend: 'wasm', timeoutMs: 120_000 });
      if (r.stdout !== '42\n') throw new Error(`printed ${JSON.stringify(r.stdout)}: ${r.stderr.slice(0, 300)}`);
      return 'Pyodide snapshot made and cached';
    },
  },
  {
    title: 'microVM guest (qemu, firecracker): kernel, initramfs with the guest agent, busybox root filesystem',
    run: async () => {
      const { buildGuestImage } = await import('../../backends/microvm/guest-image.js');
      const img = await buildGuestImage((l) => process.stderr.write(`microVM guest: ${l}...\n`));
      return `kernel ${img.kernelVersion} in ${img.dir}`;
    },
  },
  {
    title: 'backend hyperlight: JavaScript (QuickJS compiled for the micro-VM, once)',
    run: async (k) => {
      // compiled here, with progress: until then the backend does not offer JavaScript
      const { loadBackend } = await import('../../backends/registry.js');
      const hl = (await loadBackend('hyperlight')) as import('../../backends/hyperlight/backend.js').HyperlightBackend;
      await hl.javascript.prepare((m) => process.stderr.write(`${m}\n`));
      const r = await k.runCode('javascript', 'console.log(6*7)', { backend: 'hyperlight' });
      if (r.stdout !== '42\n') throw new Error(`printed ${JSON.stringify(r.stdout)}: ${r.stderr.slice(0, 300)}`);
      return 'QuickJS snapshot ready in the micro-VM';
    },
  },
  {
    title: 'backend hyperlight: Python (CPython built for wasm32-wasi and compiled for the micro-VM, once)',
    run: async (k) => {
      const { loadBackend } = await import('../../backends/registry.js');
      const hl = (await loadBackend('hyperlight')) as import('../../backends/hyperlight/backend.js').HyperlightBackend;
      await hl.python.prepare((m) => process.stderr.write(`${m}\n`));
      const r = await k.runCode('python', 'print(6*7)', { backend: 'hyperlight' });
      if (r.stdout !== '42\n') throw new Error(`printed ${JSON.stringify(r.stdout)}: ${r.stderr.slice(0, 300)}`);
      return 'CPython snapshot ready in the micro-VM';
    },
  },
];

const HINTS: Record<string, string> = {
  hyperlight: 'needs Linux x86-64, read-write access to /dev/kvm, and the Debian packages wabt and gcc',
  wasm: 'install bubblewrap for the full jail (apt-get install bubblewrap)',
  docker: 'apt-get install docker.io and start dockerd',
  podman: 'apt-get install podman',
  qemu: 'apt-get install qemu-system-x86 qemu-utils linux-image-amd64 busybox-static e2fsprogs gcc, then run setup again',
  firecracker: 'install the firecracker binary (and jailer) on PATH',
};

export function register(program: Command): void {
  program
    .command('setup')
    .summary('prepare the backends (build the micro-VM engine, make snapshots) and say what is missing')
    .action(async () => {
      await runAction({}, async (k) => {
        let failed = 0;
        for (const s of STEPS) {
          try {
            line('ok', s.title, await s.run(k));
          } catch (e) {
            failed++;
            line('failed', s.title, (e as Error).message);
          }
        }
        for (const b of await k.status()) {
          if (!b.implemented) continue;
          if (b.available) line('ok', `backend ${b.name}`, b.reason ? `note: ${b.reason}` : 'available');
          else line('missing', `backend ${b.name}`, `${b.reason ?? 'unavailable'}${HINTS[b.name] ? ` (${HINTS[b.name]})` : ''}`);
        }
        // setup succeeds when the embedded default works; missing optional backends are reported, not fatal
        return failed > 0 && !(await k.status()).some((b) => b.name === 'wasm' && b.available) ? 1 : 0;
      });
    });
}
