/** The whole corpus, in the order of the report. */
import type { EscapeCase } from '../types.js';
import { EXHAUSTION_CASES } from './exhaustion.js';
import { FILE_CASES } from './files.js';
import { NEIGHBOUR_CASES } from './neighbours.js';
import { NETWORK_CASES } from './network.js';
import { WASM_CASES } from './wasm.js';

export const ESCAPE_CASES: readonly EscapeCase[] = [...FILE_CASES, ...NETWORK_CASES, ...NEIGHBOUR_CASES, ...EXHAUSTION_CASES, ...WASM_CASES];
