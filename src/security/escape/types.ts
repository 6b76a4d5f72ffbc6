/**
 * The escape corpus as data: each case is one threat (read a host file, reach the network, exhaust the host...)
 * tried through every way a backend lets a guest in (a WASI module, JavaScript, Python, shell, a container
 * command). What "held" means is stated per attempt and checked strictly by the runner.
 */
import type { Backend, BackendName, ExecResult, Language } from '../../core/types.js';
import type { ProfileName } from '../../core/profiles.js';
import type { ProbeOp } from './probe.js';

export type Category = 'host files' | 'network' | 'neighbours' | 'environment' | 'exhaustion' | 'wasm guest';

/** How an attempt enters the guest. */
export type Via = 'wasi' | Language | 'container';

/**
 * Text of code and commands may hold placeholders the runner fills in from the planted canaries:
 * {{SHADOW}} {{TMP_SECRET}} {{HOME_SECRET}} {{PROJECT_SECRET}} (host paths of canary files), {{OUTSIDE}} (a host
 * directory nothing may be written to), {{PORT}} (the loopback listener), {{HOST_PID}}, {{MARKER}} (unique per
 * attempt, for finding its processes on the host), {{TOKEN}} (a fresh secret, only in `before`), {{ENV_NAME}},
 * {{NEIGHBOUR_FILE}} (the neighbour sandbox's canary file, as the guest would name it).
 * The canary secrets themselves never appear in a payload, so an echo of the payload cannot look like a leak.
 */
export type Payload =
  /** the probe module (probe.ts) run with argv [op, arg] */
  | { kind: 'probe'; op: ProbeOp; arg?: string; mount?: MountKind }
  /** another module (.wat text), its _start run */
  | { kind: 'module'; wat: string }
  /** an export of the probe module called with invoke */
  | { kind: 'invoke'; export: string; args?: string[] }
  /** guest code; `mount` preopens the data directory (only where the backend takes mounts for code) */
  | { kind: 'code'; language: Language; code: string; mount?: MountKind }
  /** a command for a container's busybox shell */
  | { kind: 'argv'; argv: string[] };

/**
 * `data`: a harmless directory preopened read-only at MOUNT_PATH; `data-rw` the same read-write; both hold `f.txt`,
 * `link` (a symlink to the host-tmp canary file) and `linkdir` (a symlink to {{OUTSIDE}}), planted by the host.
 * On the host it sits beside {{OUTSIDE}}, so `MOUNT_PATH/../outside` names that directory.
 */
export type MountKind = 'data' | 'data-rw';
export const MOUNT_PATH = '/data';

export interface Outcome {
  result?: ExecResult;
  /** the call threw: a typed error is a valid way of refusing */
  error?: { name: string; code?: string; message: string };
}

/** Returns undefined when the outcome is what must happen, else why it is not. */
export type Check = (o: Outcome) => string | undefined;

export interface Expectation {
  /** What must happen, in words (shown in the report). */
  says: string;
  check: Check;
}

/** Checks on the host after the attempt, beyond "no canary in the output". */
export interface HostChecks {
  /** no host process whose command line holds the attempt's {{MARKER}}, and no process the backend dropped left alive */
  noProcessesLeft?: boolean;
  /** nothing new in {{OUTSIDE}} */
  outsideUnchanged?: boolean;
  /** the backend still runs a trivial guest afterwards */
  recovers?: boolean;
}

export interface Attempt {
  via: Via;
  /** What this attempt tries, in a few words. */
  tries: string;
  payload: Payload;
  /** Run first on the same backend (same pool); its output is not checked. Used to plant residue. */
  before?: Payload;
  /** Run inside a persistent sandbox of the backend (the attacker) while a neighbour sandbox holds a canary. */
  inSandbox?: boolean;
  /** Overrides of the case's limits. */
  timeoutMs?: number;
  memoryMb?: number;
  outputBytes?: number;
  expect: Expectation;
  host?: HostChecks;
  /** Only these backends (e.g. a busybox command is only meaningful in a container). */
  only?: BackendName[];
}

export interface EscapeCase {
  id: string;
  category: Category;
  /** The threat, in words. */
  threat: string;
  /** The security profile the attempts run under. @default 'restrictive' */
  profile?: ProfileName;
  attempts: Attempt[];
}

/** A backend under test. */
export interface EscapeTarget {
  backend: Backend;
  /** Image for container commands (never pulled). */
  image?: string;
  /** PIDs of processes the backend keeps on purpose (pooled workers); anything else it started must be gone. */
  ownedPids?: () => number[];
  /**
   * Where the neighbour sandbox's canary file is written (guest path, via writeFile) and the path an attacker
   * sandbox would try for it. @default both /tmp/escape-neighbour.txt (each container has its own /tmp)
   */
  neighbour?: { guestPath: string; attackerPath: (sandbox: string) => string };
}

export type CellState = 'held' | 'broke' | 'n.a.';

export interface AttemptVerdict {
  via: Via;
  tries: string;
  state: CellState;
  /** why it broke, or why it does not apply */
  reason?: string;
  /** exit code / error of the main run, for the report */
  observed?: string;
  /** wall time of the attempt, host checks included */
  ms?: number;
}

export interface Cell {
  backend: BackendName;
  caseId: string;
  state: CellState;
  attempts: AttemptVerdict[];
  /** why n.a., or the first break */
  reason?: string;
}

export interface Matrix {
  backends: BackendName[];
  cases: EscapeCase[];
  cells: Cell[];
}
