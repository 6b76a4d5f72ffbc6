/**
 * Firecracker's API, as the requests this backend sends: pure functions building each PUT (path and JSON body),
 * plus the jailer's argv, so everything is unit-tested without the binary. The VM gets a machine config, a boot
 * source (kernel, initramfs, command line), its own copy-on-write root disk, a vsock device for the guest agent,
 * and no network interface (that needs a tap device on the host).
 */
import { request } from 'node:http';

export interface ApiCall {
  path: string;
  body: Record<string, unknown>;
}

export interface FirecrackerVm {
  kernel: string;
  initrd: string;
  disk: string;
  vsockPath: string;
  memoryMb: number;
  cpus: number;
  ephemeral: boolean;
}

/** The guest's CID on its vsock device (any value from 3 up; one device per VM, so it never clashes). */
export const GUEST_CID = 3;
/** The port the guest agent listens on (guest-agent/agent.c VSOCK_PORT). */
export const AGENT_VSOCK_PORT = 1024;

export function bootArgs(ephemeral: boolean): string {
  return ['console=ttyS0', 'loglevel=4', 'reboot=k', 'panic=1', 'pci=off', 'rdinit=/init', 'cryptomgr.notests', 'lsm=', 'audit=0',
    ...(ephemeral ? ['ak.ephemeral=1'] : [])].join(' ');
}

/** The PUTs that configure and start a VM, in order. */
export function configureCalls(vm: FirecrackerVm): ApiCall[] {
  return [
    { path: '/machine-config', body: { vcpu_count: vm.cpus, mem_size_mib: vm.memoryMb, smt: false } },
    { path: '/boot-source', body: { kernel_image_path: vm.kernel, initrd_path: vm.initrd, boot_args: bootArgs(vm.ephemeral) } },
    { path: '/drives/rootfs', body: { drive_id: 'rootfs', path_on_host: vm.disk, is_root_device: false, is_read_only: false } },
    { path: '/vsock', body: { guest_cid: GUEST_CID, uds_path: vm.vsockPath } },
    { path: '/actions', body: { action_type: 'InstanceStart' } },
  ];
}

export const CTRL_ALT_DEL: ApiCall = { path: '/actions', body: { action_type: 'SendCtrlAltDel' } };

/** The first line a host writes on Firecracker's vsock socket to reach a guest port; the answer is `OK <port>`. */
export const vsockConnectLine = (port: number): string => `CONNECT ${port}\n`;

export function jailerArgv(o: { id: string; firecracker: string; uid: number; gid: number; chrootBase: string }): string[] {
  return [
    '--id', o.id, '--exec-file', o.firecracker, '--uid', String(o.uid), '--gid', String(o.gid),
    '--chroot-base-dir', o.chrootBase, '--', '--api-sock', '/run/firecracker.socket',
  ];
}

/** The root directory the jailer chroots into: CHROOT_BASE/firecracker/ID/root (exec-file's name, then the id). */
export const jailRoot = (chrootBase: string, id: string): string => `${chrootBase}/firecracker/${id}/root`;

export function put(socket: string, call: ApiCall, timeoutMs = 10_000): Promise<void> {
  const body = JSON.stringify(call.body);
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: socket, path: call.path, method: 'PUT', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          if ((res.statusCode ?? 500) < 300) resolve();
          else reject(new Error(`firecracker PUT ${call.path}: HTTP ${res.statusCode} ${text.trim()}`));
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`firecracker PUT ${call.path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
