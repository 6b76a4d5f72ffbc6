/**
 * The seccomp filter of a jailed worker, generated as a classic-BPF program in TypeScript (no native code) and
 * handed to bubblewrap through `--seccomp FD`, which installs it (with no_new_privs) right before it executes node.
 *
 * Policy: a deny list over an allow-by-default base. A worker runs V8, which needs a wide and version-dependent
 * set of system calls (threads, mmap tricks, signals, futexes, epoll, io_uring probing); an allow list would
 * break with every Node.js release. What it must never do is small and stable: debug other processes, change
 * mounts or namespaces, load kernel code, talk to the network, or start processes. Those are refused with EPERM
 * (ENOSYS for clone3, so that glibc falls back to clone, whose flags a BPF filter can inspect).
 */

export type SeccompArch = 'x64' | 'arm64';

/** Linux audit architecture tokens (include/uapi/linux/audit.h). */
const AUDIT_ARCH: Record<SeccompArch, number> = { x64: 0xc000003e, arm64: 0xc00000b7 };

/** System calls refused with EPERM, and why. Numbers from asm/unistd_64.h (x64) and asm-generic/unistd.h (arm64). */
const DENIED: { name: string; x64?: number; arm64?: number; why: string }[] = [
  { name: 'ptrace', x64: 101, arm64: 117, why: 'inspect or control another process' },
  { name: 'process_vm_readv', x64: 310, arm64: 270, why: 'read another process\'s memory' },
  { name: 'process_vm_writev', x64: 311, arm64: 271, why: 'write another process\'s memory' },
  { name: 'kcmp', x64: 312, arm64: 272, why: 'compare kernel objects of other processes' },
  { name: 'mount', x64: 165, arm64: 40, why: 'change the filesystem view' },
  { name: 'umount2', x64: 166, arm64: 39, why: 'uncover what the jail hides' },
  { name: 'pivot_root', x64: 155, arm64: 41, why: 'change the root filesystem' },
  { name: 'chroot', x64: 161, arm64: 51, why: 'change the root filesystem' },
  { name: 'open_tree', x64: 428, arm64: 428, why: 'new mount API' },
  { name: 'move_mount', x64: 429, arm64: 429, why: 'new mount API' },
  { name: 'fsopen', x64: 430, arm64: 430, why: 'new mount API' },
  { name: 'fsconfig', x64: 431, arm64: 431, why: 'new mount API' },
  { name: 'fsmount', x64: 432, arm64: 432, why: 'new mount API' },
  { name: 'fspick', x64: 433, arm64: 433, why: 'new mount API' },
  { name: 'mount_setattr', x64: 442, arm64: 442, why: 'new mount API' },
  { name: 'unshare', x64: 272, arm64: 97, why: 'new namespaces (kernel attack surface)' },
  { name: 'setns', x64: 308, arm64: 268, why: 'enter other namespaces' },
  { name: 'kexec_load', x64: 246, arm64: 104, why: 'replace the running kernel' },
  { name: 'kexec_file_load', x64: 320, arm64: 294, why: 'replace the running kernel' },
  { name: 'init_module', x64: 175, arm64: 105, why: 'load kernel code' },
  { name: 'finit_module', x64: 313, arm64: 273, why: 'load kernel code' },
  { name: 'delete_module', x64: 176, arm64: 106, why: 'unload kernel code' },
  { name: 'bpf', x64: 321, arm64: 280, why: 'load programs into the kernel' },
  { name: 'perf_event_open', x64: 298, arm64: 241, why: 'side channels and a large kernel surface' },
  { name: 'userfaultfd', x64: 323, arm64: 282, why: 'widens kernel race windows' },
  { name: 'keyctl', x64: 250, arm64: 219, why: 'kernel keyrings are not namespaced' },
  { name: 'add_key', x64: 248, arm64: 217, why: 'kernel keyrings are not namespaced' },
  { name: 'request_key', x64: 249, arm64: 218, why: 'kernel keyrings are not namespaced' },
  { name: 'open_by_handle_at', x64: 304, arm64: 265, why: 'opens files outside the visible tree' },
  { name: 'name_to_handle_at', x64: 303, arm64: 264, why: 'pairs with open_by_handle_at' },
  { name: 'iopl', x64: 172, why: 'raw I/O port access' },
  { name: 'ioperm', x64: 173, why: 'raw I/O port access' },
  { name: 'swapon', x64: 167, arm64: 224, why: 'host administration' },
  { name: 'swapoff', x64: 168, arm64: 225, why: 'host administration' },
  { name: 'reboot', x64: 169, arm64: 142, why: 'host administration' },
  { name: 'acct', x64: 163, arm64: 89, why: 'host administration' },
  { name: 'quotactl', x64: 179, arm64: 60, why: 'host administration' },
  { name: 'quotactl_fd', x64: 443, arm64: 443, why: 'host administration' },
  { name: 'syslog', x64: 103, arm64: 116, why: 'reads the kernel log' },
  { name: 'settimeofday', x64: 164, arm64: 170, why: 'host clock' },
  { name: 'clock_settime', x64: 227, arm64: 112, why: 'host clock' },
  { name: 'clock_adjtime', x64: 305, arm64: 266, why: 'host clock' },
  { name: 'adjtimex', x64: 159, arm64: 171, why: 'host clock' },
  { name: 'sethostname', x64: 170, arm64: 161, why: 'host identity' },
  { name: 'setdomainname', x64: 171, arm64: 162, why: 'host identity' },
  { name: 'vhangup', x64: 153, arm64: 58, why: 'terminal control' },
  { name: 'lookup_dcookie', x64: 212, arm64: 18, why: 'kernel profiling interface' },
  { name: 'personality', x64: 135, arm64: 92, why: 'disables address-space randomisation' },
  { name: 'io_uring_setup', x64: 425, arm64: 425, why: 'large kernel surface, bypasses this filter' },
  { name: 'io_uring_enter', x64: 426, arm64: 426, why: 'large kernel surface, bypasses this filter' },
  { name: 'io_uring_register', x64: 427, arm64: 427, why: 'large kernel surface, bypasses this filter' },
  { name: 'fork', x64: 57, why: 'workers never start processes' },
  { name: 'vfork', x64: 58, why: 'workers never start processes' },
];

const SYSCALL = {
  socket: { x64: 41, arm64: 198 },
  clone: { x64: 56, arm64: 220 },
  clone3: { x64: 435, arm64: 435 },
} as const;

const EPERM = 1;
const ENOSYS = 38;
const AF_UNIX = 1;
const CLONE_THREAD = 0x00010000;
/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET */
const CLONE_NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000;
/** x32 system calls on x86-64 carry this bit; none is needed, and they would dodge the numbers above. */
const X32_SYSCALL_BIT = 0x40000000;

// classic BPF opcodes (linux/bpf_common.h) and seccomp return values (linux/seccomp.h)
const LD_W_ABS = 0x20;
const JEQ_K = 0x15;
const JGE_K = 0x35;
const JSET_K = 0x45;
const RET_K = 0x06;
const RET_ALLOW = 0x7fff0000;
const RET_ERRNO = 0x00050000;
const RET_KILL_PROCESS = 0x80000000;

// offsets into struct seccomp_data
const OFF_NR = 0;
const OFF_ARCH = 4;
const OFF_ARG0_LOW = 16; // little-endian: the low 32 bits of args[0]

type Label = 'allow' | 'deny' | 'kill' | 'enosys' | 'socket' | 'clone';
type Insn =
  | { op: 'ld'; k: number }
  | { op: 'jeq' | 'jge' | 'jset'; k: number; jt: Label | null; jf: Label | null }
  | { op: 'ret'; k: number }
  | { op: 'label'; name: Label };

/** The denied system calls of an architecture, by name (for docs and status). */
export function deniedSyscalls(arch: SeccompArch = hostArch()): string[] {
  return DENIED.filter((d) => d[arch] !== undefined).map((d) => d.name);
}

export function hostArch(): SeccompArch {
  if (process.arch === 'x64' || process.arch === 'arm64') return process.arch;
  throw new Error(`no seccomp table for architecture ${process.arch}`);
}

export function isSeccompSupported(): boolean {
  return process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64');
}

function program(arch: SeccompArch): Insn[] {
  const p: Insn[] = [
    { op: 'ld', k: OFF_ARCH },
    // a system call of another ABI (e.g. int 0x80 on x86-64) has other numbers: end the process
    { op: 'jeq', k: AUDIT_ARCH[arch], jt: null, jf: 'kill' },
    { op: 'ld', k: OFF_NR },
  ];
  if (arch === 'x64') p.push({ op: 'jge', k: X32_SYSCALL_BIT, jt: 'deny', jf: null });
  for (const d of DENIED) {
    const nr = d[arch];
    if (nr !== undefined) p.push({ op: 'jeq', k: nr, jt: 'deny', jf: null });
  }
  p.push(
    { op: 'jeq', k: SYSCALL.clone3[arch], jt: 'enosys', jf: null },
    { op: 'jeq', k: SYSCALL.socket[arch], jt: 'socket', jf: null },
    { op: 'jeq', k: SYSCALL.clone[arch], jt: 'clone', jf: null },
    { op: 'ret', k: RET_ALLOW },
    // socket(): only AF_UNIX (no network, no netlink, no raw packets)
    { op: 'label', name: 'socket' },
    { op: 'ld', k: OFF_ARG0_LOW },
    { op: 'jeq', k: AF_UNIX, jt: 'allow', jf: 'deny' },
    // clone(): threads yes; processes and namespaces no
    { op: 'label', name: 'clone' },
    { op: 'ld', k: OFF_ARG0_LOW },
    { op: 'jset', k: CLONE_NEW_NAMESPACES, jt: 'deny', jf: null },
    { op: 'jset', k: CLONE_THREAD, jt: 'allow', jf: 'deny' },
    { op: 'label', name: 'deny' },
    { op: 'ret', k: RET_ERRNO | EPERM },
    { op: 'label', name: 'enosys' },
    { op: 'ret', k: RET_ERRNO | ENOSYS },
    { op: 'label', name: 'kill' },
    { op: 'ret', k: RET_KILL_PROCESS },
    // classic BPF only jumps forward, so the allow that the argument checks reach comes last
    { op: 'label', name: 'allow' },
    { op: 'ret', k: RET_ALLOW },
  );
  return p;
}

/** Resolve labels to relative jump offsets and encode struct sock_filter[] (8 bytes each, host byte order). */
function assemble(insns: Insn[]): Buffer {
  const real = insns.filter((i) => i.op !== 'label');
  const at = new Map<Label, number>();
  let n = 0;
  for (const i of insns) {
    if (i.op === 'label') at.set(i.name, n);
    else n++;
  }
  const buf = Buffer.alloc(real.length * 8);
  real.forEach((i, idx) => {
    const rel = (l: Label | null): number => {
      if (l === null) return 0;
      const target = at.get(l);
      if (target === undefined) throw new Error(`seccomp: undefined label ${l}`);
      const off = target - idx - 1;
      if (off < 0 || off > 255) throw new Error(`seccomp: jump to ${l} out of range (${off})`);
      return off;
    };
    let code: number;
    let jt = 0;
    let jf = 0;
    switch (i.op) {
      case 'ld': code = LD_W_ABS; break;
      case 'ret': code = RET_K; break;
      default:
        code = i.op === 'jeq' ? JEQ_K : i.op === 'jge' ? JGE_K : JSET_K;
        jt = rel(i.jt);
        jf = rel(i.jf);
    }
    const o = idx * 8;
    buf.writeUInt16LE(code, o);
    buf.writeUInt8(jt, o + 2);
    buf.writeUInt8(jf, o + 3);
    buf.writeUInt32LE(i.k >>> 0, o + 4);
  });
  if (real.length > 4096) throw new Error('seccomp: program too long');
  return buf;
}

/** The filter as bubblewrap's --seccomp expects it: the raw sock_filter array. */
export function buildSeccompFilter(arch: SeccompArch = hostArch()): Buffer {
  return assemble(program(arch));
}

/** One decoded instruction, for tests and for `status` output. */
export interface DecodedInsn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

export function decodeFilter(buf: Buffer): DecodedInsn[] {
  const out: DecodedInsn[] = [];
  for (let o = 0; o + 8 <= buf.length; o += 8) {
    out.push({ code: buf.readUInt16LE(o), jt: buf.readUInt8(o + 2), jf: buf.readUInt8(o + 3), k: buf.readUInt32LE(o + 4) });
  }
  return out;
}

/**
 * Run the filter on a system call, as the kernel would: the value it returns (SECCOMP_RET_*). Used by the tests
 * to check the program's logic without loading it, and equally valid for both architectures.
 */
export function evaluateFilter(buf: Buffer, call: { arch: number; nr: number; args?: number[] }): number {
  const prog = decodeFilter(buf);
  const word = (off: number): number => {
    if (off === OFF_NR) return call.nr >>> 0;
    if (off === OFF_ARCH) return call.arch >>> 0;
    if (off >= 16 && off < 64 && (off - 16) % 8 === 0) return (call.args?.[(off - 16) / 8] ?? 0) >>> 0;
    throw new Error(`unsupported load offset ${off}`);
  };
  let a = 0;
  for (let pc = 0; pc < prog.length; pc++) {
    const i = prog[pc];
    switch (i.code) {
      case LD_W_ABS: a = word(i.k); break;
      case JEQ_K: pc += a === i.k ? i.jt : i.jf; break;
      case JGE_K: pc += a >= i.k ? i.jt : i.jf; break;
      case JSET_K: pc += (a & i.k) !== 0 ? i.jt : i.jf; break;
      case RET_K: return i.k;
      default: throw new Error(`unsupported opcode ${i.code}`);
    }
  }
  throw new Error('filter fell off its end');
}

export const SECCOMP = { AUDIT_ARCH, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, EPERM, ENOSYS, AF_UNIX, CLONE_THREAD, SYSCALL } as const;

/** The numbers of a denied call, for tests. */
export function syscallNumber(name: string, arch: SeccompArch = hostArch()): number | undefined {
  const d = DENIED.find((x) => x.name === name);
  if (d) return d[arch];
  const s = (SYSCALL as Record<string, Record<SeccompArch, number>>)[name];
  return s?.[arch];
}
