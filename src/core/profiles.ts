/**
 * Security profiles, each defined once, concretely. Every backend reads these values and applies what it can;
 * what a backend cannot apply is reported in its IsolationReport (`missing`), never skipped silently.
 */
import { ConfigError } from './errors.js';

export type ProfileName = 'permissive' | 'moderate' | 'restrictive';

export interface SecurityProfile {
  name: ProfileName;
  /** Network access from the guest (containers/microVMs; Wasm guests never get sockets). */
  network: boolean;
  /** Root filesystem mounted read-only (containers/microVMs). */
  readOnlyRoot: boolean;
  /** May the caller's working directory be mounted into the sandbox (at /workspace)? */
  mountCwd: boolean;
  /** May the caller's home directory be mounted (read-only)? */
  mountHome: boolean;
  /** Pass the host's environment through to the guest. When false, only variables given explicitly reach it. */
  passEnv: boolean;
  /** Drop all Linux capabilities and set no-new-privileges (containers). */
  dropCapabilities: boolean;
  /** Run as an unprivileged user inside the sandbox (containers). */
  nonRootUser: boolean;
  /** Default caps; flags and agentkernel.toml may lower or raise them within the hard maxima below. */
  memoryMb: number;
  cpus: number;
  pidsLimit: number;
  timeoutMs: number;
  outputBytes: number;
}

const MiB = 1024 * 1024;

export const PROFILES: Readonly<Record<ProfileName, Readonly<SecurityProfile>>> = Object.freeze({
  permissive: Object.freeze({
    name: 'permissive',
    network: true,
    readOnlyRoot: false,
    mountCwd: true,
    mountHome: true,
    passEnv: true,
    dropCapabilities: false,
    nonRootUser: false,
    memoryMb: 2048,
    cpus: 2,
    pidsLimit: 1024,
    timeoutMs: 300_000,
    outputBytes: 16 * MiB,
  }),
  moderate: Object.freeze({
    name: 'moderate',
    network: true,
    readOnlyRoot: false,
    mountCwd: false,
    mountHome: false,
    passEnv: false,
    dropCapabilities: true,
    nonRootUser: false,
    memoryMb: 512,
    cpus: 1,
    pidsLimit: 256,
    timeoutMs: 30_000,
    outputBytes: 1 * MiB,
  }),
  restrictive: Object.freeze({
    name: 'restrictive',
    network: false,
    readOnlyRoot: true,
    mountCwd: false,
    mountHome: false,
    passEnv: false,
    dropCapabilities: true,
    nonRootUser: true,
    memoryMb: 256,
    cpus: 1,
    pidsLimit: 64,
    timeoutMs: 10_000,
    outputBytes: 256 * 1024,
  }),
}) as Readonly<Record<ProfileName, Readonly<SecurityProfile>>>;

export const DEFAULT_PROFILE: ProfileName = 'moderate';

export function isProfileName(s: string): s is ProfileName {
  return Object.prototype.hasOwnProperty.call(PROFILES, s);
}

/** Look up a profile by name; an unknown name is an error that lists the valid ones. */
export function getProfile(name: string | undefined): SecurityProfile {
  const n = name ?? DEFAULT_PROFILE;
  if (!isProfileName(n)) {
    throw new ConfigError(`unknown security profile '${n}' (valid: ${Object.keys(PROFILES).join(', ')})`);
  }
  return { ...PROFILES[n] };
}
