/**
 * --invoke of functions in exported interfaces of other packages (`export example:math/calc@1.0.0;`): their types
 * are read from the component binary (foreign.ts), and the calls go through jco's bindings for those interfaces.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { componentEmbed, componentNew, componentWit, parse } from '@bytecodealliance/jco-transpile/wasm-tools';
import { tempDir } from '../wasm-backend/helpers.js';
import { WasmBackend } from '../../src/backends/wasm/backend.js';
import { NotFoundError, ValidationError } from '../../src/core/errors.js';
import { exportNames, renameExports } from '../../src/runtimes/component/exports.js';
import { typeForeignExports } from '../../src/runtimes/component/foreign.js';
import { transpileComponent } from '../../src/runtimes/component/transpile.js';
import { formatFunction, parseWorld } from '../../src/runtimes/component/wit.js';
import { cli } from '../helpers/cli.js';
import { IMPORTED_TYPES, INTERFACE_EXPORTS, LIBRARY } from './fixtures.js';

const CALC = 'example:math/calc@1.0.0';
const WORDS = 'example:text/words@0.2.0';

describe('invoking functions of exported interfaces of other packages', () => {
  const backend = new WasmBackend({ poolSize: 1, prewarm: [] });
  let component: Uint8Array;
  before(async () => {
    component = await parse(INTERFACE_EXPORTS);
  });
  after(() => backend.close());

  const call = async (name: string, ...args: unknown[]): Promise<unknown> => {
    const r = await backend.runComponent({ component, invoke: name, invokeArgs: args });
    assert.equal(r.exitCode, 0, r.stderr);
    return r.value;
  };
  const refused = (name: string, args: unknown[], kind: typeof ValidationError | typeof NotFoundError, message: RegExp): Promise<void> =>
    assert.rejects(backend.runComponent({ component, invoke: name, invokeArgs: args }),
      (e: unknown) => e instanceof kind && message.test((e as Error).message));

  it('reads the functions and their types from the binary into the WIT', async () => {
    const world = parseWorld((await transpileComponent(component)).wit);
    assert.deepEqual(world.untyped, []);
    assert.deepEqual(world.functions.map(formatFunction), [
      `${CALC}#add(a: u32, b: u32) -> u32`,
      `${CALC}#swap(p: record point) -> record point`,
      `${CALC}#sum-bytes(data: list<u8>) -> u32`,
      `${CALC}#checked-div(a: u32, b: u32) -> result<u32, string>`,
      `${CALC}#big(v: u64) -> u64`,
      `${CALC}#hold(h: resource handle)`,
      `${WORDS}#greet(name: string) -> string`,
      `${WORDS}#add(a: u32, b: u32) -> u32`,
    ]);
  });

  it('invokes by full path, by path without the version, and by bare name', async () => {
    assert.equal(await call(`${CALC}#add`, 2, 40), 42);
    assert.equal(await call('example:math/calc#add', 1, 2), 3);
    assert.equal(await call(`${WORDS}#add`, 5, 6), 11);
    assert.deepEqual(await call('swap', { x: 1, y: -2 }), { x: -2, y: 1 });
    assert.equal(await call('example:math/calc#sum-bytes', [1, 2, 250]), 253);
    assert.deepEqual(await call('checked-div', 7, 2), { ok: 3 });
    assert.deepEqual(await call(`${CALC}#checked-div`, 1, 0), { err: 'division by zero' });
    assert.equal(await call('big', '9007199254740993'), '18014398509481986');
    assert.equal(await call('greet', 'Ada'), 'hello, Ada');
    assert.equal(await call('example:text/words#greet', 'Lin'), 'hello, Lin');
  });

  it('a bare name in two interfaces is ambiguous; an unknown one is NotFoundError', async () => {
    await refused('add', [1, 2], ValidationError, new RegExp(`ambiguous.*${CALC}#add.*${WORDS}#add`));
    await refused('example:math/calc#nope', [], NotFoundError, /no function 'example:math\/calc#nope'.*#greet/);
    await refused('example:math/calc@2.0.0#add', [1, 2], NotFoundError, /no function/);
  });

  it('wrong arity or types are ValidationErrors naming the parameter', async () => {
    await refused(`${CALC}#add`, [1], ValidationError, /takes 2 argument\(s\) \(a, b\), got 1/);
    await refused('example:math/calc#add', [1, -1], ValidationError, /argument 'b': expected u32/);
    await refused('swap', [{ x: 1 }], ValidationError, /argument 'p': missing field 'y' of record point/);
    await refused('greet', [5], ValidationError, /argument 'name': expected string/);
    await refused('sum-bytes', [[1, 256]], ValidationError, /argument 'data'\[1\]: expected u8/);
  });

  it('a resource parameter is refused before the run, saying why', async () => {
    await refused('hold', [1], ValidationError, /argument 'h': values of type resource handle cannot be given as JSON/);
  });

  it('takes a record from an imported interface of types, which needs nothing from the host', async () => {
    const bytes = await parse(IMPORTED_TYPES);
    const world = parseWorld((await transpileComponent(bytes)).wit);
    assert.deepEqual(world.functions.map(formatFunction), ['example:math/geometry@1.0.0#swap(p: record point) -> record point']);
    assert.deepEqual(world.imports, []);
    const r = await backend.runComponent({ component: bytes, invoke: 'example:math/geometry#swap', invokeArgs: [{ x: 7, y: 8 }] });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.deepEqual(r.value, { x: 8, y: 7 });
    await assert.rejects(backend.runComponent({ component: bytes, invoke: 'swap', invokeArgs: [{ x: 'a', y: 1 }] }),
      (e: unknown) => e instanceof ValidationError && /argument 'p'\.x: expected s32/.test(e.message));
  });

  it('reads the shapes wit-component builds (cargo-component, jco componentize): types `use`d from another interface', async () => {
    // wit-component itself, as those toolchains run it, around a core module whose functions are `unreachable`
    const witSource = `package example:math@1.0.0;
      interface types { record point { x: s32, y: s32 } enum unit { cm, inch } flags perms { read, write } }
      interface calc { use types.{point, unit, perms}; swap: func(p: point) -> point; scale: func(u: unit, f: perms) -> option<f64>; }
      world imported { export calc; }
      world exported { export types; export calc; }`;
    for (const world of ['imported', 'exported']) {
      const bytes = await componentNew(await componentEmbed({ witSource, dummy: true, world }));
      const w = parseWorld((await transpileComponent(bytes)).wit);
      assert.deepEqual(w.functions.map(formatFunction), [
        `${CALC}#swap(p: record point) -> record point`, `${CALC}#scale(u: enum unit, f: flags perms) -> option<f64>`,
      ], world);
      assert.deepEqual(w.imports, [], world);
      // the call reaches the core function through jco's bindings for the interface: its `unreachable` traps
      const r = await backend.runComponent({ component: bytes, invoke: 'example:math/calc#swap', invokeArgs: [{ x: 1, y: 2 }] });
      assert.equal(r.exitCode, 134, r.stderr);
      assert.equal(r.trap?.kind, 'unreachable');
      await assert.rejects(backend.runComponent({ component: bytes, invoke: 'scale', invokeArgs: ['mm', []] }),
        (e: unknown) => e instanceof ValidationError && /argument 'u': expected enum unit \(one of cm, inch\)/.test(e.message));
    }
    // some of the renamed decodes make wasm-tools panic: that stays in its own copy, the shared one still works
    assert.match(await componentWit(component), /export example:math\/calc@1\.0\.0;/);
  });

  it('reads `use` between interfaces written inline; names it cannot find stay opaque; a circle is refused', () => {
    const w = parseWorld(`package root:component;
      world root {
        import x:y/types@1.0.0 : interface { record p { a: u8 } }
        export x:y/calc@1.0.0 : interface { use x:y/types@1.0.0.{p as q}; use x:y/gone.{r}; f: func(v: q, w: r) -> s; }
      }`);
    assert.deepEqual(w.functions.map(formatFunction), ['x:y/calc@1.0.0#f(v: record p, w: r) -> s']);
    assert.deepEqual(w.imports, []);
    assert.throws(() => parseWorld(`world root {
        export x:y/a : interface { use x:y/b.{t}; f: func(v: t); }
        export x:y/b : interface { use x:y/a.{t}; }
      }`), (e: unknown) => e instanceof ValidationError && /nest too deeply/.test(e.message));
  });

  it('renaming exports rewrites only the export section', async () => {
    assert.deepEqual(exportNames(component), [CALC, WORDS]);
    const renamed = renameExports(component, (n) => (n === CALC ? 'calc' : undefined));
    assert.deepEqual(exportNames(renamed), ['calc', WORDS]);
    assert.equal(renamed.byteLength, component.byteLength - (CALC.length - 'calc'.length));
    assert.match(await componentWit(renamed), /export calc: interface \{[^}]*record point/);
    const lib = await parse(LIBRARY);
    assert.deepEqual(renameExports(lib, () => undefined), lib);
  });

  it('an interface that cannot be written inline does not keep the others untyped', async () => {
    const wit = await componentWit(component);
    // a decoder that refuses two renamed exports at once, and CALC renamed at all
    const picky = async (bytes: Uint8Array): Promise<string> => {
      const names = exportNames(bytes);
      if (names.filter((n) => !n.includes(':')).length > 1) throw new Error('two at once');
      if (!names.includes(CALC)) throw new Error('not this one');
      return componentWit(bytes);
    };
    const world = parseWorld(await typeForeignExports(component, wit, picky));
    assert.deepEqual(world.untyped, [CALC]);
    assert.deepEqual(world.functions.map((f) => f.path), [`${WORDS}#greet`, `${WORDS}#add`]);
    const none = parseWorld(await typeForeignExports(component, wit, () => Promise.reject(new Error('no'))));
    assert.deepEqual(none.untyped, [CALC, WORDS]);
    assert.deepEqual(none.functions, []);
  });

  it('the CLI invokes an interface function with --args', async (t) => {
    const d = tempDir(t, 'ak-comp-iface-');
    const file = join(d, 'calc.wasm');
    writeFileSync(file, component);
    const r = await cli(['run', '-B', 'wasm', '--wasm-component', file, '--invoke', `${CALC}#swap`, '--args', '[{"x":3,"y":4}]'], { home: join(d, 'home') });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { x: 4, y: 3 });
    const bad = await cli(['run', '-B', 'wasm', '--wasm-component', file, '--invoke', 'example:math/calc#add', '--args', '[1]'], { home: join(d, 'home') });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /takes 2 argument\(s\) \(a, b\), got 1/);
  });
});
