/** The portable `wasm` backend: jailed, pre-forked worker processes running V8 WebAssembly and code runtimes. */
export { WasmBackend, createWasmBackend, type WasmBackendOptions } from './backend.js';
export { WorkerPool, mountKey, type PoolOptions, type PoolWorkerInfo } from './pool.js';
export { Jail, type JailOptions, type JailPlan } from './jail/index.js';
export { buildSeccompFilter, deniedSyscalls } from './jail/seccomp.js';
export { seatbeltProfile } from './jail/seatbelt.js';
