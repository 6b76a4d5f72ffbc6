/**
 * Facts about the machine a benchmark ran on, written into every report so that figures are never compared across
 * machines silently. KVM gets special care: nested /dev/kvm (no vmx/svm flag, kvm_pvm) changes every VM figure.
 */
import { cpus, totalmem, release, version, platform, arch, loadavg, availableParallelism } from 'node:os';
import { existsSync, readFileSync, readdirSync, accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import type { KvmFacts, MachineFacts } from './types.js';

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function cpuFlags(cpuinfo: string): Set<string> {
  const line = /^flags\s*:(.*)$/m.exec(cpuinfo);
  return new Set((line?.[1] ?? '').trim().split(/\s+/).filter(Boolean));
}

export function kvmFacts(): KvmFacts {
  const present = existsSync('/dev/kvm');
  const flags = cpuFlags(readText('/proc/cpuinfo'));
  const cpuFlag = flags.has('vmx') ? 'vmx' : flags.has('svm') ? 'svm' : null;
  let modules: string[] = [];
  try {
    modules = readdirSync('/sys/module').filter((m) => m === 'kvm' || m.startsWith('kvm_')).sort();
  } catch {
    // no sysfs (not Linux): no modules to report
  }
  const pvm = modules.includes('kvm_pvm');
  const nested = present && (pvm || cpuFlag === null);
  let accessible = false;
  if (present) {
    try {
      accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
      accessible = true;
    } catch {
      accessible = false;
    }
  }
  let summary: string;
  if (!present) summary = 'no /dev/kvm';
  else if (nested) {
    const why = [pvm ? 'kvm_pvm loaded' : '', cpuFlag === null ? 'no vmx/svm flag in /proc/cpuinfo' : ''].filter(Boolean).join(', ');
    summary = `/dev/kvm present, nested (${why})`;
  } else summary = `/dev/kvm present, hardware ${cpuFlag}`;
  if (present && !accessible) summary += '; not accessible to this user';
  return { present, cpuFlag, underHypervisor: flags.has('hypervisor'), modules, nested, summary };
}

function cpuModel(): string {
  const fromProc = /^model name\s*:\s*(.+)$/m.exec(readText('/proc/cpuinfo'))?.[1];
  return (fromProc ?? cpus()[0]?.model ?? 'unknown').trim();
}

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function machineFacts(now = new Date()): MachineFacts {
  return {
    cpuModel: cpuModel(),
    cores: availableParallelism(),
    memoryBytes: totalmem(),
    platform: platform(),
    arch: arch(),
    kernel: release(),
    kernelVersion: version(),
    node: process.version,
    agentkernel: packageVersion(),
    kvm: kvmFacts(),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    date: now.toISOString(),
  };
}

/** One line for headers: "AMD EPYC, 2 cores, 23.4 GiB, Linux 6.1, Node v20, /dev/kvm present, nested (...)". */
export function machineLine(m: MachineFacts): string {
  const gib = (m.memoryBytes / 2 ** 30).toFixed(1);
  return `${m.cpuModel}, ${m.cores} cores, ${gib} GiB, ${m.platform} ${m.kernel} (${m.arch}), Node ${m.node}, ${m.kvm.summary}`;
}
