/** Soak and load testing with fault injection (see docs/soak.md). */
export { runSoak, DEFAULT_TOLERANCE, type SoakOptions, type SoakReport, type Tolerance, type InterfaceStats } from './run.js';
export { check, type Verdict, type Checked, type FaultContext } from './check.js';
export { SOAK_WAT, KINDS, buildRequest, makeNonce, isFault, type SoakRequest, type Answer, type WorkKind, type BackendUse } from './guests.js';
export type { InterfaceName, Caller } from './callers.js';
export { sample, fullGc, type HostSample } from './host.js';
export { formatReport } from './report.js';
