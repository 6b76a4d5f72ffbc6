/** The `firecracker` backend: Linux microVMs under Firecracker (KVM only), sharing the microVM guest and agent. */
import { MicroVmBackend, type MicroVmBackendOptions } from '../microvm/backend.js';
import { FirecrackerDriver } from './driver.js';

export function createFirecrackerBackend(opts: MicroVmBackendOptions = {}): MicroVmBackend {
  return new MicroVmBackend(new FirecrackerDriver(), opts);
}
