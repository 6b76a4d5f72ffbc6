/** WASI preview1 for agentkernel's Wasm-capable backends. */
export { WasiPreview1, WasiExit, type WasiOptions } from './wasi.js';
export { WASI_SIGNATURES } from './signatures.js';
export { ERRNO, RIGHTS, ALL_RIGHTS } from './constants.js';
