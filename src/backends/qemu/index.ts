/** The `qemu` backend: Linux microVMs under QEMU's microvm machine (KVM where it can boot the guest, else TCG). */
import { MicroVmBackend, type MicroVmBackendOptions } from '../microvm/backend.js';
import { QemuDriver } from './driver.js';

export function createQemuBackend(opts: MicroVmBackendOptions = {}): MicroVmBackend {
  return new MicroVmBackend(new QemuDriver(), opts);
}
