/** The benchmark harness behind `agentkernel bench`, usable as a library. */
export { runBench, benchSettings, DEFAULTS } from './harness.js';
export { renderText } from './report/text.js';
export { renderHtml } from './report/html.js';
export { StderrProgress } from './progress.js';
export { machineFacts, kvmFacts } from './machine.js';
export { WORKLOADS, WORKLOAD_IDS } from './workloads.js';
export { REFERENCES, REFERENCE_IDS } from './references.js';
export { QUOTED, QUOTED_LABEL } from './quoted.js';
export { WrongOutputError } from './check.js';
export type * from './types.js';
