// Fuzzing the micro-VM host-call interface: raw guest messages from a real KVM guest, served by the backend's
// dispatcher (skipped where micro-VMs cannot run).
import { test } from 'node:test';
import { fuzzTest } from './runner.js';
import { hostcallSurface } from './hostcall-surface.js';

test('arbitrary guest messages end in an outcome or a typed error, and the VM stays usable', async (t) => {
  await fuzzTest(t, hostcallSurface);
});
