/**
 * The microVM pieces that need no VM: the guest agent protocol's framing and payloads, the QEMU command line,
 * the module load order of the initramfs, and the initramfs archive format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameDecoder, MSG, decodeList, encodeExec, encodeFrame, encodeWrite } from '../../src/backends/microvm/protocol.js';
import { agentError } from '../../src/backends/microvm/agent-client.js';
import { kernelCmdline, qemuArgv } from '../../src/backends/qemu/argv.js';
import { moduleLoadOrder } from '../../src/backends/microvm/guest-image.js';
import { cpioArchive } from '../../src/backends/microvm/cpio.js';
import { overlayArgs } from '../../src/backends/microvm/disk.js';
import { ValidationError, NotFoundError, ConflictError } from '../../src/core/errors.js';

test('frames: header layout, and reassembly from arbitrary pieces', () => {
  const f = encodeFrame(MSG.STDOUT, 0x01020304, Buffer.from('hi'));
  assert.deepEqual([...f], [7, 0, 0, 0, 0x82, 4, 3, 2, 1, 0x68, 0x69]);
  const stream = Buffer.concat([f, encodeFrame(MSG.EXIT, 9, Buffer.from([3, 0, 0, 0])), encodeFrame(MSG.OK, 10)]);
  const d = new FrameDecoder();
  const got = [];
  for (let i = 0; i < stream.length; i += 3) got.push(...d.push(stream.subarray(i, i + 3)));
  assert.deepEqual(got.map((g) => [g.type, g.id, g.payload.toString('hex')]), [[0x82, 0x01020304, '6869'], [0x84, 9, '03000000'], [0x85, 10, '']]);
  assert.throws(() => new FrameDecoder().push(Buffer.from([1, 0, 0, 0, 0, 0, 0, 0, 0])), /malformed/);
});

test('exec and write payloads: NUL-terminated strings with counts; NUL inside a string is refused', () => {
  const p = encodeExec({ argv: ['sh', '-c', 'x'], env: { A: '1' }, cwd: '/tmp', uid: 65534, gid: 65534 });
  const expect = Buffer.concat([
    Buffer.from([0xfe, 0xff, 0, 0, 0xfe, 0xff, 0, 0]), Buffer.from('/tmp\0'), Buffer.from([3, 0, 0, 0]), Buffer.from('sh\0-c\0x\0'),
    Buffer.from([1, 0, 0, 0]), Buffer.from('A=1\0'),
  ]);
  assert.deepEqual(p, expect);
  assert.throws(() => encodeExec({ argv: ['a\0b'], env: {} }), ValidationError);
  assert.deepEqual(encodeWrite('/f', Buffer.from('d'), 0o600), Buffer.from([0x80, 1, 0, 0, 0x2f, 0x66, 0, 0x64]));
});

test('directory listings decode to sorted entries with types and sizes', () => {
  const entry = (t: number, size: number, name: string) => {
    const b = Buffer.alloc(9);
    b[0] = t;
    b.writeBigUInt64LE(BigInt(size), 1);
    return Buffer.concat([b, Buffer.from(`${name}\0`)]);
  };
  const list = decodeList(Buffer.concat([entry(1, 4096, 'z'), entry(0, 5, 'a.txt'), entry(2, 7, 'link')]));
  assert.deepEqual(list, [{ name: 'a.txt', type: 'file', size: 5 }, { name: 'link', type: 'symlink', size: 7 }, { name: 'z', type: 'dir', size: 4096 }]);
});

test('agent errno values map to the typed errors', () => {
  assert.ok(agentError('read', '/x', 2, '') instanceof NotFoundError);
  assert.ok(agentError('read', '/x', 21, '') instanceof ValidationError);
  assert.ok(agentError('write', '/x', 30, '') instanceof ConflictError);
  assert.equal(agentError('write', '/x', 5, 'EIO').code, 'INTERNAL');
});

test('qemu argv: microvm, nothing by default, CoW disk, agent port, QMP; network only when allowed', () => {
  const base = {
    kernel: '/k', initrd: '/i', disk: '/d,1.qcow2', memoryMb: 256, cpus: 1, ephemeral: true,
    agentSocket: '/s/agent.sock', qmpSocket: '/s/qmp.sock', consoleLog: '/s/console.log',
  };
  const tcg = qemuArgv({ ...base, network: false, acceleration: 'tcg' });
  const at = (flag: string) => tcg[tcg.indexOf(flag) + 1];
  assert.match(at('-M'), /^microvm/);
  assert.equal(at('-accel'), 'tcg');
  assert.equal(at('-m'), '256M');
  for (const f of ['-nodefaults', '-no-user-config', '-nographic', '-no-reboot']) assert.ok(tcg.includes(f), f);
  assert.ok(tcg.includes('id=root,file=/d,,1.qcow2,format=qcow2,if=none,cache=writeback,discard=unmap'), 'commas in paths are escaped');
  assert.ok(tcg.includes('virtserialport,chardev=agent,name=ak.agent'));
  assert.ok(!tcg.some((a) => a.includes('netdev')), 'no network device');
  assert.match(at('-append'), /tsc_early_khz=2000000 tsc=reliable/);
  assert.match(at('-append'), /ak\.ephemeral=1/);
  const kvm = qemuArgv({ ...base, network: true, acceleration: 'kvm', ephemeral: false });
  assert.equal(kvm[kvm.indexOf('-cpu') + 1], 'host');
  assert.ok(kvm.includes('virtio-net-device,netdev=net0'));
  assert.doesNotMatch(kernelCmdline('kvm', false), /tsc_early_khz|ak\.ephemeral/);
  assert.deepEqual(overlayArgs('/base.ext4', '/vm/disk.qcow2'), ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/base.ext4', '/vm/disk.qcow2']);
});

test('module load order: dependencies first, each once; built-ins need no file', () => {
  const dep = [
    'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/jbd2/jbd2.ko:',
    'kernel/lib/crc16.ko:',
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/crypto/crc32c_generic.ko:',
  ].join('\n');
  assert.deepEqual(moduleLoadOrder(dep, new Set(['kernel/drivers/virtio/virtio_mmio.ko']), ['virtio_mmio', 'virtio_blk', 'ext4', 'crc32c_generic']), [
    'kernel/drivers/virtio/virtio_ring.ko', 'kernel/drivers/block/virtio_blk.ko', 'kernel/lib/crc16.ko', 'kernel/fs/jbd2/jbd2.ko', 'kernel/fs/ext4/ext4.ko',
    'kernel/crypto/crc32c_generic.ko',
  ]);
  assert.throws(() => moduleLoadOrder(dep, new Set(), ['nosuch']), /neither a module nor built into/);
});

test('initramfs archive: newc headers, 4-byte alignment, trailer', () => {
  const a = cpioArchive([{ kind: 'dir', path: 'dev' }, { kind: 'char', path: 'dev/console', major: 5, minor: 1 }, { kind: 'file', path: '/init', data: Buffer.from('abc'), mode: 0o755 }]);
  const text = a.toString('latin1');
  assert.equal(text.slice(0, 6), '070701');
  assert.equal(a.length % 4, 0);
  assert.ok(text.includes('TRAILER!!!'));
  const init = text.indexOf('init\0');
  const header = text.slice(init - 110, init);
  assert.equal(header.slice(14, 22), (0o100755).toString(16).padStart(8, '0'));
  assert.equal(parseInt(header.slice(54, 62), 16), 3, 'file size');
  const con = text.indexOf('dev/console\0');
  assert.equal(parseInt(text.slice(con - 110, con).slice(78, 86), 16), 5, 'rdev major');
});
