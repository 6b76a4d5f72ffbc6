/**
 * The escape corpus: adversarial cases (host files, network, neighbours, environment, exhaustion, Wasm guest
 * attacks) run against every backend, each judged held / broke / n.a. See docs/security.md.
 */
export { ESCAPE_CASES } from './cases/index.js';
export { CANARY_ENV, plantCanaries, type Canaries, type CanaryOptions } from './canary.js';
export { runEscapeCorpus, type EscapeRunOptions } from './runner.js';
export { renderTable } from './table.js';
export { PROBE_OPS, PROBE_WAT } from './probe.js';
export type * from './types.js';
