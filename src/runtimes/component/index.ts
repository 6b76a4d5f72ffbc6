export { wasmKind, loadComponentBytes } from './binary.js';
export { transpileComponent, type TranspiledComponent } from './transpile.js';
export { parseWorld, formatFunction, typeName, type WitFunction, type WitType, type WitWorld } from './wit.js';
export { toJs, fromJs } from './values.js';
