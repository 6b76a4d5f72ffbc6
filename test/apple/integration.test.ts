/**
 * The apple backend against the real `container` CLI. Runs only on macOS 26+ on Apple silicon with the CLI
 * installed, its service started and the test image in the local store (`container image pull
 * debian:bookworm-slim`); anywhere else it skips with the exact reason.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createAppleBackend } from '../../src/backends/apple/index.js';
import { ensureImage } from '../../src/backends/container/images.js';
import { tempStore } from '../containers/tmp.js';

const IMAGE = 'debian:bookworm-slim';

async function skipReason(b: ReturnType<typeof createAppleBackend>): Promise<string | undefined> {
  const a = await b.availability();
  if (!a.available) return `Apple Containers unavailable: ${a.reason}`;
  try {
    await ensureImage(b.engine, IMAGE);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

test('apple backend with the real container CLI: restrictive sandbox, exec, files, ephemeral run', async (t) => {
  const b = createAppleBackend({ store: tempStore(), poolSize: 0 });
  const why = await skipReason(b);
  if (why) {
    t.skip(why);
    return;
  }
  const name = `ak-it-${process.pid}`;
  try {
    const info = await b.create({ name, image: IMAGE, profile: 'restrictive' });
    assert.equal(info.status, 'running');
    assert.equal((info.applied as { network: string }).network, 'none');
    const r = await b.exec(name, ['sh', '-c', 'id -u; touch /etc/x 2>&1 || echo read-only; ls /sys/class/net']);
    assert.equal(r.exitCode, 0, r.stderr);
    const [uid, ro, ...nets] = r.stdout.trim().split('\n');
    assert.equal(uid, '65534');
    assert.match(ro, /read-only|Read-only file system/);
    assert.deepEqual(nets.filter((n) => n !== 'lo'), [], 'no network interface besides lo');
    await b.writeFile(name, '/tmp/note.txt', 'kept');
    assert.equal(new TextDecoder().decode(await b.readFile(name, '/tmp/note.txt')), 'kept');
    assert.equal((await b.stop(name)).status, 'stopped');
    assert.equal((await b.start(name)).status, 'running');
    const run = await b.run(['sh', '-c', 'echo $((6*7))'], { image: IMAGE });
    assert.equal(run.stdout, '42\n');
    assert.equal(run.isolation?.layers[0], 'vm');
  } finally {
    await b.remove(name).catch(() => {});
    await b.close();
  }
});
