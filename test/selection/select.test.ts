/**
 * Automatic selection against fake backends: every combination of the seven backends being unavailable,
 * available, or available for -B only (3^7 = 2187), for every capability, under two capability tables. The
 * expectation is computed here from this file's own order table, not from detect.ts.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { isAgentKernelError } from '../../src/core/errors.js';
import type { Availability, BackendName, Capabilities, CapabilityName, Language } from '../../src/core/types.js';
import { hasCapability } from '../../src/backends/base.js';
import { closeLoadedBackends } from '../../src/backends/registry.js';
import {
  SELECTION_ORDER, WORKLOAD_ORDER, picksFrom, selectFrom, workloadOf, type BackendStatus, type Candidate, type SelectableBackend,
} from '../../src/backends/detect.js';

const NAMES: BackendName[] = ['hyperlight', 'firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'];
const WASM_AND_CODE: BackendName[] = ['hyperlight', 'firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'];
const SHELL: BackendName[] = ['firecracker', 'qemu', 'apple', 'podman', 'docker', 'wasm'];

const EXPECTED_ORDER: Record<CapabilityName, BackendName[]> = {
  runWasm: WASM_AND_CODE, invoke: WASM_AND_CODE, wasmComponent: WASM_AND_CODE, snapshot: WASM_AND_CODE,
  'runCode:javascript': WASM_AND_CODE, 'runCode:python': WASM_AND_CODE, 'runCode:shell': WASM_AND_CODE,
  exec: SHELL, lifecycle: SHELL, files: SHELL,
};
const CAPS = Object.keys(EXPECTED_ORDER) as CapabilityName[];

function caps(on: (keyof Capabilities)[], languages: Language[] = []): Capabilities {
  const c: Capabilities = { lifecycle: false, exec: false, files: false, runWasm: false, invoke: false, languages, snapshot: false, wasmComponent: false };
  for (const k of on) if (k !== 'languages') (c as unknown as Record<string, boolean>)[k] = true;
  return c;
}
const SHELLY: (keyof Capabilities)[] = ['lifecycle', 'exec', 'files'];

/** Capabilities that make several backends compete for most operations, each in a different way. */
const MIXED: Record<BackendName, Capabilities> = {
  hyperlight: caps(['runWasm', 'invoke', 'snapshot'], ['javascript']),
  firecracker: caps(SHELLY, ['python', 'shell']),
  qemu: caps([...SHELLY, 'runWasm'], ['python']),
  apple: caps(SHELLY),
  podman: caps(SHELLY, ['python']),
  docker: caps([...SHELLY, 'wasmComponent']),
  wasm: caps(['lifecycle', 'exec', 'files', 'runWasm', 'invoke'], ['javascript', 'python', 'shell']),
};
const ALL = caps(['lifecycle', 'exec', 'files', 'runWasm', 'invoke', 'snapshot', 'wasmComponent'], ['javascript', 'python', 'shell']);
/** Every backend can do everything: the pick is decided by the order alone. */
const UNIFORM = Object.fromEntries(NAMES.map((n) => [n, ALL])) as Record<BackendName, Capabilities>;

type State = 'off' | 'on' | 'explicit-only';
const STATES: State[] = ['off', 'on', 'explicit-only'];

function availabilityOf(name: BackendName, s: State): Availability {
  if (s === 'off') return { available: false, reason: `${name} is off in this test` };
  if (s === 'explicit-only') return { available: true, autoSelect: false, reason: `${name} runs under emulation only` };
  return { available: true };
}

interface Fake extends SelectableBackend {
  probes: number;
}

function fakes(table: Record<BackendName, Capabilities>, states: Record<BackendName, State>, loads: BackendName[]): Candidate<Fake>[] {
  // shuffled on purpose: the workload's order must decide, not the order of the list
  return [...NAMES].reverse().map((name) => ({
    name,
    load: async () => {
      loads.push(name);
      const f: Fake = {
        name,
        probes: 0,
        capabilities: () => table[name],
        availability: async () => {
          f.probes++;
          return availabilityOf(name, states[name]);
        },
      };
      return f;
    },
  }));
}

function* combinations(): Generator<Record<BackendName, State>> {
  const total = STATES.length ** NAMES.length;
  for (let i = 0; i < total; i++) {
    let n = i;
    const s = {} as Record<BackendName, State>;
    for (const name of NAMES) {
      s[name] = STATES[n % STATES.length];
      n = Math.floor(n / STATES.length);
    }
    yield s;
  }
}

function expectedPick(table: Record<BackendName, Capabilities>, states: Record<BackendName, State>, cap: CapabilityName): BackendName | undefined {
  return EXPECTED_ORDER[cap].find((n) => states[n] === 'on' && hasCapability(table[n], cap));
}

for (const [tableName, table] of [['mixed', MIXED], ['uniform', UNIFORM]] as const) {
  test(`automatic selection, ${tableName} capabilities: every availability combination x every capability`, async () => {
    let checked = 0;
    let none = 0;
    for (const states of combinations()) {
      for (const cap of CAPS) {
        const loads: BackendName[] = [];
        const want = expectedPick(table, states, cap);
        const ctx = `${cap} with ${JSON.stringify(states)}`;
        if (want) {
          const got = await selectFrom(cap, fakes(table, states, loads));
          assert.equal(got.name, want, ctx);
          // backends after the pick in the order are never loaded (selection stays lazy)
          const order = EXPECTED_ORDER[cap];
          assert.deepEqual(loads, order.slice(0, order.indexOf(want) + 1), ctx);
        } else {
          none++;
          await assert.rejects(selectFrom(cap, fakes(table, states, loads)), (e: unknown) => {
            assert.ok(isAgentKernelError(e) && e.code === 'UNAVAILABLE', ctx);
            assert.ok(e.message.startsWith(`no available backend can do '${cap}' here`), ctx);
            // every capable backend that was passed over is named with its reason
            for (const n of EXPECTED_ORDER[cap]) {
              if (!hasCapability(table[n], cap)) continue;
              if (states[n] === 'off') assert.ok(e.message.includes(`${n}: ${n} is off in this test`), `${ctx}: ${e.message}`);
              if (states[n] === 'explicit-only') assert.ok(e.message.includes(`${n}: only with -B ${n} (${n} runs under emulation only)`), `${ctx}: ${e.message}`);
            }
            return true;
          });
        }
        checked++;
      }
    }
    assert.equal(checked, 3 ** 7 * CAPS.length);
    assert.ok(none > 0 && none < checked, 'both outcomes occur');
  });
}

test('explicit -B: available and capable wins whatever autoSelect says; otherwise a clear typed error', async () => {
  for (const states of [
    Object.fromEntries(NAMES.map((n) => [n, 'on'])), Object.fromEntries(NAMES.map((n) => [n, 'off'])),
    Object.fromEntries(NAMES.map((n) => [n, 'explicit-only'])),
  ] as Record<BackendName, State>[]) {
    for (const name of NAMES) {
      for (const cap of CAPS) {
        const loads: BackendName[] = [];
        const p = selectFrom(cap, fakes(MIXED, states, loads), { explicit: name });
        const ctx = `-B ${name} for ${cap} (${states[name]})`;
        if (!hasCapability(MIXED[name], cap)) {
          await assert.rejects(p, (e: unknown) => isAgentKernelError(e) && e.code === 'UNSUPPORTED' && e.message.includes(`backend '${name}' does not support`), ctx);
        } else if (states[name] === 'off') {
          await assert.rejects(p, (e: unknown) => isAgentKernelError(e) && e.code === 'UNAVAILABLE' && e.message === `backend '${name}' is unavailable: ${name} is off in this test`, ctx);
        } else {
          assert.equal((await p).name, name, ctx);
        }
        assert.deepEqual(loads, [name], `${ctx}: only the named backend is loaded`);
      }
    }
  }
  await assert.rejects(selectFrom('exec', [], { explicit: 'qemu' }), /unknown backend 'qemu'/);
  await assert.rejects(selectFrom('exec', [{ name: 'qemu' }], { explicit: 'qemu' }), /backend 'qemu' is not implemented/);
});

test('a backend that fails to load or to probe is skipped with its reason', async () => {
  const wasm: SelectableBackend = { name: 'wasm', capabilities: () => ALL, availability: async () => ({ available: true }) };
  const got = await selectFrom('exec', [
    { name: 'firecracker' }, // not implemented: silently not a candidate
    { name: 'qemu', load: async () => { throw new Error('module qemu failed to load'); } },
    { name: 'apple', load: async () => ({ name: 'apple', capabilities: () => ALL, availability: async () => { throw new Error('probe crashed'); } }) },
    { name: 'wasm', load: async () => wasm },
  ]);
  assert.equal(got, wasm);
  await assert.rejects(
    selectFrom('exec', [
      { name: 'qemu', load: async () => { throw new Error('module qemu failed to load'); } },
      { name: 'apple', load: async () => ({ name: 'apple', capabilities: () => ALL, availability: async () => { throw new Error('probe crashed'); } }) },
    ]),
    /qemu: module qemu failed to load; apple: probe crashed/,
  );
});

test('workloads and their orders', () => {
  for (const cap of CAPS) assert.deepEqual(WORKLOAD_ORDER[workloadOf(cap)], EXPECTED_ORDER[cap], cap);
  assert.equal(workloadOf('exec'), 'shell');
  assert.equal(workloadOf('runCode:python'), 'code');
  assert.equal(workloadOf('invoke'), 'wasm');
  assert.deepEqual(SELECTION_ORDER, WASM_AND_CODE);
  assert.ok(!WORKLOAD_ORDER.shell.includes('hyperlight'), 'shell work never goes to the Wasm micro-VM');
  for (const order of Object.values(WORKLOAD_ORDER)) assert.equal(order.at(-1), 'wasm', 'the portable engine is always last');
});

after(() => closeLoadedBackends());

test('status picks come from probed statuses and the real registry', async () => {
  const status = (name: BackendName, available: boolean, autoSelect = available): BackendStatus =>
    ({ name, summary: '', implemented: true, available, autoSelect, reason: available ? undefined : 'off' });
  const onlyWasm = NAMES.map((n) => status(n, n === 'wasm'));
  for (const p of await picksFrom(onlyWasm)) assert.equal(p.backend, 'wasm', p.label);
  const withPodman = NAMES.map((n) => status(n, n === 'wasm' || n === 'podman'));
  const picks = Object.fromEntries((await picksFrom(withPodman)).map((p) => [p.label, p.backend]));
  assert.equal(picks.shell, 'podman');
  assert.equal(picks.wasm, 'wasm', 'containers never take Wasm work');
  const podmanByNameOnly = NAMES.map((n) => status(n, n === 'wasm' || n === 'podman', n === 'wasm'));
  assert.equal((await picksFrom(podmanByNameOnly)).find((p) => p.label === 'shell')?.backend, 'wasm');
});
