/** The WebAssembly module toolkit and the V8 executor. */
export {
  loadModuleBytes, inspectModule, detectFeatures, capMemory, compileModule, compileWat, moduleInfo,
  type CompileOptions, type ExportInfo, type ImportInfo, type MemoryInfo, type ModuleInfo, type ValType, type WasmModule,
} from './module.js';
export { formatSignature, parseInvokeArgs, formatResults } from './invoke-args.js';
export { classifyTrap } from './traps.js';
export { runWasiCommand, invokeExport } from './run.js';
