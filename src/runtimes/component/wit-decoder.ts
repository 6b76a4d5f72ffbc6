/**
 * A copy of jco's wasm-tools of its own for the extra WIT decodes of foreign.ts. wasm-tools is itself a
 * component: a Rust panic inside it (some renamed components make its WIT decoder or printer panic) traps and
 * leaves that instance unusable for the rest of the process. So those decodes run in a separate instance of its
 * module (a query in the URL makes a distinct ES module), dropped after a trap and loaded afresh next time; the
 * instance that transpiles and prints every component is never touched by them.
 */
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface ToolsModule {
  $init: Promise<void>;
  tools: { componentWit(bytes: Uint8Array): string };
}

/** Loaded copies stay in the module map once dropped: a bound on what panicking inputs can make us keep. */
const MAX_COPIES = 8;
let copies = 0;
let current: Promise<ToolsModule> | undefined;

function load(): Promise<ToolsModule> {
  const entry = fileURLToPath(import.meta.resolve('@bytecodealliance/jco-transpile'));
  const url = pathToFileURL(join(entry, '..', '..', 'vendor', 'wasm-tools.js'));
  url.search = `?copy=${copies++}`;
  return import(url.href) as Promise<ToolsModule>;
}

/** The WIT of a component's world, as componentWit prints it; rejects (and drops the copy) on a trap. */
export async function decodeWit(bytes: Uint8Array): Promise<string> {
  if (!current) {
    if (copies >= MAX_COPIES) throw new Error('the WIT decoder trapped too often in this process');
    current = load();
  }
  const mod = await current;
  try {
    await mod.$init;
    return mod.tools.componentWit(bytes);
  } catch (e) {
    // a decoding error comes back as jco's ComponentError with a payload; anything else is a trap
    if (!(e !== null && typeof e === 'object' && 'payload' in e)) current = undefined;
    throw e;
  }
}
