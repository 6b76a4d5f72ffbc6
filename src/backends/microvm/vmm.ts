/**
 * What a microVM backend needs from its VMM (QEMU, Firecracker): start a VM on a given disk, connect to its
 * guest agent, stop it. Everything a later process needs to find a running VM again is in VmHandle, which is
 * stored in the sandbox's record, so a persistent VM outlives the process that started it.
 */
import type { Duplex } from 'node:stream';
import type { Availability } from '../../core/types.js';
import type { GuestImage } from './guest-image.js';

export type Acceleration = 'kvm' | 'tcg';

export interface VmSpec {
  /** The VM's own directory: its disk, sockets and logs live here and go with it. */
  dir: string;
  /** The VM's copy-on-write disk (made by disk.ts in the VMM's format). */
  disk: string;
  guest: GuestImage;
  memoryMb: number;
  cpus: number;
  network: boolean;
  /** A pooled VM: its agent powers it off when the host's connection goes away (no orphans if we die). */
  ephemeral: boolean;
  /** Keep running after this process exits (persistent sandboxes). */
  detached: boolean;
}

export interface VmHandle {
  pid: number;
  dir: string;
  /** Unix socket of the agent's byte stream (QEMU: the virtio-serial chardev; Firecracker: its vsock socket). */
  agentSocket: string;
  /** Unix socket of the VMM's control API (QMP, Firecracker's API), when it has one. */
  controlSocket?: string;
  acceleration: Acceleration;
  /** Facts shown by `inspect` (VMM version, machine type, what the VM got). */
  facts: Record<string, unknown>;
}

export interface VmmDriver {
  readonly name: 'qemu' | 'firecracker';
  /** Disk format of the per-VM copy-on-write disk. */
  readonly diskFormat: 'qcow2' | 'raw';
  /** Is the VMM there and can it run the guest? Says so with the exact reason when not. */
  availability(guest: GuestImage | { missing: string }): Promise<Availability>;
  launch(spec: VmSpec): Promise<VmHandle>;
  /** A fresh byte stream to the guest agent (the agent may still be booting: it answers PING when ready). */
  connectAgent(vm: VmHandle): Promise<Duplex>;
  /** Make the VMM exit now (after the guest was asked to power off, or when it does not answer). */
  terminate(vm: VmHandle): Promise<void>;
}
