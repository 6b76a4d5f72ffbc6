/**
 * The QEMU command line of one microVM: `-M microvm` (virtio-mmio devices, no PCI, no firmware), nothing by
 * default (-nodefaults -no-user-config), the guest's console to a log file, the agent on a virtio-serial port
 * named ak.agent, the VM's own copy-on-write disk, QMP for control, and a network device only when allowed.
 * A pure function so every flag is unit-tested.
 */
import type { Acceleration } from '../microvm/vmm.js';

export interface QemuArgvInput {
  kernel: string;
  initrd: string;
  disk: string;
  memoryMb: number;
  cpus: number;
  network: boolean;
  ephemeral: boolean;
  acceleration: Acceleration;
  agentSocket: string;
  qmpSocket: string;
  consoleLog: string;
}

/**
 * Kernel command line: serial console showing warnings and errors only, no reboot loops, and boot work a sandbox
 * does not need switched off (crypto self-tests, LSMs, audit, EDD, PCI probing), which under software emulation
 * is seconds. Under TCG a fixed TSC, or boots hang now and then.
 */
export function kernelCmdline(acceleration: Acceleration, ephemeral: boolean): string {
  return [
    'console=ttyS0', 'loglevel=4', 'printk.time=1', 'panic=-1', 'reboot=t', 'pci=off', 'rdinit=/init',
    'cryptomgr.notests', 'lsm=', 'apparmor=0', 'audit=0', 'ima_appraise=off', 'edd=off', 'nokaslr', 'mitigations=off',
    'no_timer_check', 'random.trust_cpu=on',
    ...(acceleration === 'tcg' ? ['tsc_early_khz=2000000', 'tsc=reliable'] : []),
    ...(ephemeral ? ['ak.ephemeral=1'] : []),
  ].join(' ');
}

/** QEMU's -chardev/-drive option syntax doubles a comma to escape it. */
const esc = (s: string) => s.replace(/,/g, ',,');

export function qemuArgv(i: QemuArgvInput): string[] {
  return [
    '-M', 'microvm,x-option-roms=off,rtc=on',
    '-accel', i.acceleration,
    '-cpu', i.acceleration === 'kvm' ? 'host' : 'max',
    '-m', `${i.memoryMb}M`,
    '-smp', String(i.cpus),
    '-nodefaults', '-no-user-config', '-nographic', '-no-reboot',
    '-kernel', i.kernel,
    '-initrd', i.initrd,
    '-append', kernelCmdline(i.acceleration, i.ephemeral),
    '-chardev', `file,id=console,path=${esc(i.consoleLog)}`,
    '-serial', 'chardev:console',
    '-drive', `id=root,file=${esc(i.disk)},format=qcow2,if=none,cache=writeback,discard=unmap`,
    '-device', 'virtio-blk-device,drive=root',
    '-device', 'virtio-serial-device,max_ports=2',
    '-chardev', `socket,id=agent,path=${esc(i.agentSocket)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=agent,name=ak.agent',
    '-qmp', `unix:${esc(i.qmpSocket)},server=on,wait=off`,
    ...(i.network ? ['-netdev', 'user,id=net0', '-device', 'virtio-net-device,netdev=net0'] : []),
  ];
}
