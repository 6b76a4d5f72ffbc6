/** The lifecycle through the real CLI: every step is its own process, sharing only the state directory. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempHome } from '../helpers/cli.js';
import { ENGINES, TEST_IMAGE, tempDir, uniqueName } from './engines.js';

for (const engine of ENGINES) {
  describe(`${engine.name}: CLI processes`, { skip: engine.skip }, () => {
    test('create, exec, cp, list, stop, start, remove: one process each', { timeout: 120_000 }, async () => {
      const home = tempHome();
      const name = uniqueName('cli');
      const run = (args: string[], stdin?: string) => cli(args, { home, stdin });
      try {
        const created = await run(['create', name, '-B', engine.name, '--image', TEST_IMAGE, '-p', 'restrictive', '-e', 'WHO=cli']);
        assert.equal(created.code, 0, created.stderr);
        const exec = await run(['exec', name, '--', 'sh', '-c', 'echo "$WHO"; id -u; echo oops >&2; exit 7']);
        assert.deepEqual([exec.code, exec.stdout, exec.stderr], [7, 'cli\n65534\n', 'oops\n']);
        const piped = await run(['exec', '-i', name, '--', 'cat'], 'through stdin');
        assert.equal(piped.stdout, 'through stdin');
        const dir = tempDir('ak-cp');
        writeFileSync(join(dir, 'in.txt'), 'to the sandbox');
        assert.equal((await run(['cp', join(dir, 'in.txt'), `${name}:/tmp/in.txt`])).code, 0);
        assert.equal((await run(['exec', name, '--', 'cat', '/tmp/in.txt'])).stdout, 'to the sandbox');
        await run(['exec', name, '--', 'sh', '-c', 'echo from the sandbox > /tmp/out.txt']);
        assert.equal((await run(['cp', `${name}:/tmp/out.txt`, join(dir, 'out.txt')])).code, 0);
        assert.equal(readFileSync(join(dir, 'out.txt'), 'utf8'), 'from the sandbox\n');
        const list = await run(['list', '--json']);
        const mine = (JSON.parse(list.stdout) as { name: string; status: string; backend: string }[]).find((s) => s.name === name);
        assert.deepEqual([mine?.backend, mine?.status], [engine.name, 'running']);
        assert.equal((await run(['stop', name])).code, 0);
        const stoppedExec = await run(['exec', name, '--', 'true']);
        assert.notEqual(stoppedExec.code, 0);
        assert.match(stoppedExec.stderr, /not running/);
        assert.equal((await run(['start', name])).code, 0);
        assert.equal((await run(['exec', name, '--', 'true'])).code, 0);
      } finally {
        const removed = await run(['remove', name]);
        assert.equal(removed.code, 0, removed.stderr);
      }
      const after = await run(['exec', name, '--', 'true']);
      assert.notEqual(after.code, 0);
      assert.match(after.stderr, /no sandbox named/);
    });
  });
}
