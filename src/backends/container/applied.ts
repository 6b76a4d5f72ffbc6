/**
 * What a container really got. `inspect` data of a sandbox is read back from the engine (resource caps, network
 * mode, mounts) and from inside the guest (`/proc/self/status` and `/proc/self/mounts`: capabilities,
 * no-new-privileges, seccomp mode, user, read-only root), so it reports what is in force, not what was asked.
 * The same shape, filled from the plan, describes ephemeral runs; both feed the IsolationReport.
 */
import type { IsolationReport } from '../../core/types.js';
import { NON_ROOT_USER, type ContainerPlan } from './plan.js';

export interface Applied {
  engine: string;
  runtime: string;
  network: string;
  readOnlyRoot: boolean;
  tmpfs: string[];
  /** 'ALL' when the guest holds no capability at all; otherwise the effective set as hex. */
  capabilitiesDropped: string;
  noNewPrivileges: boolean;
  seccomp: 'engine default' | 'disabled' | 'unknown';
  pidsLimit: number | null;
  memoryMb: number | null;
  cpus: number | null;
  user: string;
  mounts: { hostPath: string; guestPath: string; readOnly: boolean }[];
  /** 'engine+guest' when read back after creation, 'plan' when it restates the flags given. */
  source: 'engine+guest' | 'plan';
  /** What the profile asked for that the engine did not apply. */
  missing?: { layer: string; reason: string }[];
}

export function appliedFromPlan(plan: ContainerPlan, engine: string, runtime: string): Applied {
  const p = plan.profile;
  return {
    engine,
    runtime,
    network: plan.network ? 'default' : 'none',
    readOnlyRoot: p.readOnlyRoot,
    tmpfs: p.readOnlyRoot ? ['/tmp'] : [],
    capabilitiesDropped: p.dropCapabilities ? 'ALL' : 'none',
    noNewPrivileges: p.dropCapabilities,
    seccomp: 'engine default',
    pidsLimit: plan.pidsLimit,
    memoryMb: plan.memoryMb,
    cpus: plan.cpus,
    user: p.nonRootUser ? NON_ROOT_USER : 'image default',
    mounts: plan.mounts.map((m) => ({ ...m })),
    source: 'plan',
  };
}

/**
 * Plan-based facts minus what the engine has no way to apply (EngineDialect.gaps): the fields of those layers read
 * as not applied, and each gap is listed as missing.
 */
export function withGaps(a: Applied, gaps: { layer: string; reason: string }[]): Applied {
  if (gaps.length === 0) return a;
  const out: Applied = { ...a, missing: [...(a.missing ?? []), ...gaps] };
  for (const { layer } of gaps) {
    if (layer === 'capabilities') out.capabilitiesDropped = 'none';
    else if (layer === 'no-new-privileges') out.noNewPrivileges = false;
    else if (layer === 'seccomp') out.seccomp = 'unknown';
    else if (layer === 'pids') out.pidsLimit = null;
    else if (layer === 'read-only root') out.readOnlyRoot = false;
    else if (layer === 'network') out.network = 'default';
  }
  return out;
}

/** The parts of `inspect --type container` this module reads (docker and podman agree; other dialects map to them). */
export interface InspectData {
  HostConfig?: {
    NetworkMode?: string;
    ReadonlyRootfs?: boolean;
    Tmpfs?: Record<string, string> | null;
    PidsLimit?: number | null;
    Memory?: number;
    NanoCpus?: number;
    CpuQuota?: number;
    CpuPeriod?: number;
    Runtime?: string;
  };
  Config?: { User?: string };
  Mounts?: { Type?: string; Source?: string; Destination?: string; RW?: boolean }[] | null;
  State?: { Status?: string; Running?: boolean };
}

/** Facts from inside the guest: `cat /proc/self/status; echo ---; cat /proc/self/mounts`. */
export interface GuestFacts {
  capEff: string;
  capBnd: string;
  noNewPrivs: boolean;
  seccompMode: number;
  uid: string;
  gid: string;
  rootReadOnly: boolean;
}

export function parseGuestFacts(text: string): GuestFacts | undefined {
  const [status, mounts = ''] = text.split('\n---\n');
  const field = (k: string): string | undefined => new RegExp(`^${k}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim();
  const capEff = field('CapEff');
  if (capEff === undefined) return undefined;
  const rootLine = mounts.split('\n').map((l) => l.split(' ')).filter((f) => f[1] === '/').pop();
  return {
    capEff,
    capBnd: field('CapBnd') ?? '',
    noNewPrivs: field('NoNewPrivs') === '1',
    seccompMode: Number(field('Seccomp') ?? 0),
    uid: (field('Uid') ?? '').split(/\s+/)[0],
    gid: (field('Gid') ?? '').split(/\s+/)[0],
    rootReadOnly: rootLine ? rootLine[3].split(',').includes('ro') : false,
  };
}

/** The guest command whose output parseGuestFacts reads. */
export const GUEST_FACTS_ARGV = ['/bin/sh', '-c', 'cat /proc/self/status; echo ---; cat /proc/self/mounts'];

export function appliedFromEngine(plan: ContainerPlan, engine: string, runtime: string, data: InspectData, guest?: GuestFacts): Applied {
  const h = data.HostConfig ?? {};
  const cpus = h.NanoCpus ? h.NanoCpus / 1e9 : h.CpuQuota && h.CpuPeriod ? h.CpuQuota / h.CpuPeriod : null;
  const applied: Applied = {
    engine,
    runtime: h.Runtime && h.Runtime !== 'oci' ? h.Runtime : runtime,
    network: h.NetworkMode ?? 'unknown',
    readOnlyRoot: guest ? guest.rootReadOnly : Boolean(h.ReadonlyRootfs),
    tmpfs: Object.keys(h.Tmpfs ?? {}).sort(),
    capabilitiesDropped: guest ? (/^0+$/.test(guest.capEff) && /^0+$/.test(guest.capBnd) ? 'ALL' : `effective ${guest.capEff}`) : 'unknown',
    noNewPrivileges: guest ? guest.noNewPrivs : false,
    seccomp: guest ? (guest.seccompMode === 2 ? 'engine default' : 'disabled') : 'unknown',
    pidsLimit: h.PidsLimit && h.PidsLimit > 0 ? h.PidsLimit : null,
    memoryMb: h.Memory ? Math.round(h.Memory / (1024 * 1024)) : null,
    cpus,
    user: guest ? `${guest.uid}:${guest.gid}` : data.Config?.User || 'image default',
    mounts: (data.Mounts ?? []).filter((m) => m.Type === 'bind').map((m) => ({ hostPath: m.Source ?? '', guestPath: m.Destination ?? '', readOnly: m.RW === false })),
    source: guest ? 'engine+guest' : 'plan',
  };
  const missing = compare(plan, applied);
  if (!guest) missing.push({ layer: 'guest check', reason: 'the guest could not report its own capabilities (no /bin/sh or cat in the image)' });
  if (missing.length) applied.missing = missing;
  return applied;
}

/** Every setting the plan asked for and the engine did not apply. */
function compare(plan: ContainerPlan, a: Applied): { layer: string; reason: string }[] {
  const p = plan.profile;
  const out: { layer: string; reason: string }[] = [];
  const miss = (layer: string, reason: string): void => void out.push({ layer, reason });
  if (!plan.network && a.network !== 'none') miss('network', `network mode is '${a.network}', not 'none'`);
  if (p.readOnlyRoot && !a.readOnlyRoot) miss('read-only root', 'the root filesystem is writable');
  if (p.dropCapabilities && a.capabilitiesDropped !== 'ALL' && a.source === 'engine+guest') miss('capabilities', `guest still holds capabilities (${a.capabilitiesDropped})`);
  if (p.dropCapabilities && !a.noNewPrivileges && a.source === 'engine+guest') miss('no-new-privileges', 'not set on the guest');
  if (a.seccomp !== 'engine default' && a.source === 'engine+guest') miss('seccomp', 'no seccomp filter on the guest');
  if (a.memoryMb !== plan.memoryMb) miss('memory', `memory limit is ${a.memoryMb ?? 'unset'} MiB, asked ${plan.memoryMb}`);
  if (a.pidsLimit !== plan.pidsLimit) miss('pids', `pids limit is ${a.pidsLimit ?? 'unset'}, asked ${plan.pidsLimit}`);
  if (a.cpus === null || Math.abs(a.cpus - plan.cpus) > 1e-6) miss('cpus', `cpu limit is ${a.cpus ?? 'unset'}, asked ${plan.cpus}`);
  if (p.nonRootUser && a.user !== NON_ROOT_USER) miss('user', `runs as ${a.user}, not ${NON_ROOT_USER}`);
  return out;
}

/**
 * The layers a run had, from what was applied; what the profile wanted and did not get is listed as missing.
 * `engineLayers` are the engine's own beyond the container (a VM per container).
 */
export function isolationReport(a: Applied, engineLayers: readonly string[] = []): IsolationReport {
  const layers = [...engineLayers, 'container', 'namespaces', 'cgroups'];
  if (a.seccomp === 'engine default') layers.push('seccomp');
  if (a.capabilitiesDropped === 'ALL') layers.push('no-capabilities');
  if (a.noNewPrivileges) layers.push('no-new-privileges');
  if (a.readOnlyRoot) layers.push('read-only-root');
  if (a.network === 'none') layers.push('no-network');
  if (a.user !== 'image default' && !a.user.startsWith('0:')) layers.push('non-root');
  if (a.runtime === 'runsc') layers.push('gvisor');
  return a.missing?.length ? { layers, missing: a.missing } : { layers };
}
