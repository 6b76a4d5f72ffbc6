/**
 * abi.ts must say what abi.h says: every #define it mirrors, the WASI numbering, and struct ak_msg's layout as
 * the C compiler lays it out (reported by the addon).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import * as abi from '../../src/backends/hyperlight/abi.js';
import { nativeAbiLayout, vmmAvailability } from '../../src/backends/hyperlight/vmm.js';
import { repoRoot } from './helpers.js';

const header = readFileSync(join(repoRoot(), 'native', 'common', 'abi.h'), 'utf8');

function define(name: string): number {
  const m = new RegExp(`^#define\\s+${name}\\s+(0x[0-9a-fA-F]+|\\d+)(?:ull|u)?\\b`, 'm').exec(header);
  assert.ok(m, `abi.h defines ${name}`);
  return Number(m[1]);
}

test('every constant of abi.ts matches abi.h', () => {
  const names = Object.keys(abi).filter((k) => k.startsWith('AK_') && typeof (abi as Record<string, unknown>)[k] === 'number');
  assert.ok(names.length >= 25, 'abi.ts exports the ABI constants');
  for (const name of names) {
    if (name === 'AK_WASI_COUNT') continue;
    assert.equal((abi as Record<string, unknown>)[name], define(name), name);
  }
  assert.equal(abi.AK_WASI_COUNT, define('AK_WASI_COUNT'));
});

test('AK_WASI_FUNCS lists the same names at the same indices', () => {
  const start = header.indexOf('#define AK_WASI_FUNCS(X)');
  assert.ok(start >= 0);
  const lines: string[] = [];
  for (const line of header.slice(start).split('\n')) {
    lines.push(line);
    if (!line.trimEnd().endsWith('\\')) break;
  }
  const entries = [...lines.join('\n').matchAll(/X\((\d+),\s*(\w+)\)/g)].map((m) => [Number(m[1]), m[2]] as const);
  assert.equal(entries.length, abi.AK_WASI_FUNCS.length);
  for (const [i, name] of entries) assert.equal(abi.AK_WASI_FUNCS[i], name, `index ${i}`);
});

test('struct ak_msg offsets match the C compiler', { skip: vmmAvailability().available ? false : `micro-VMs unavailable: ${vmmAvailability().reason}` }, () => {
  const c = nativeAbiLayout();
  assert.equal(c.version, abi.AK_ABI_VERSION);
  assert.equal(c.msgAddr, abi.AK_MSG_ADDR);
  assert.equal(c.msgSize, abi.AK_MSG_SIZE);
  assert.equal(c.imageBase, abi.AK_IMAGE_BASE);
  assert.equal(c.stackSize, abi.AK_STACK_SIZE);
  assert.equal(c.headerSize, abi.MSG_HEADER_SIZE);
  for (const field of ['abi', 'op', 'func', 'nargs', 'args', 'results', 'nresults', 'status', 'memBase', 'memSize', 'dataLen', 'data'] as const) {
    assert.equal(abi.MSG[field], c[field], `offset of ${field}`);
  }
});
