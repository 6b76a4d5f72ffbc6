/** `agentkernel daemon`: a real detached server, verified by pid before it is stopped. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, tempHome } from '../helpers/cli.js';

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('daemon start, status, stop: the server answers with its key, then is gone', async () => {
  const home = tempHome();
  const env = { AGENTKERNEL_API_KEY: '' };
  assert.equal((await cli(['daemon', 'status'], { home, env })).code, 3);

  const started = await cli(['daemon', 'start', '--port', '0'], { home, env });
  assert.equal(started.code, 0, started.stderr);
  assert.match(started.stderr, /generated an API key/);
  const rec = JSON.parse(readFileSync(join(home, 'state', 'daemon.json'), 'utf8')) as { pid: number; url: string };
  try {
    const key = readFileSync(join(home, 'config', 'api-key'), 'utf8').trim();
    assert.ok(started.stderr.includes(key), 'the new key is shown once, by start');
    const res = await fetch(`${rec.url}/sandboxes`, { headers: { authorization: `Bearer ${key}` } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { success: true, data: [] });

    const again = await cli(['daemon', 'start', '--port', '0'], { home, env });
    assert.equal(again.code, 0);
    assert.match(again.stderr, /already running/);
    assert.doesNotMatch(again.stderr, /generated/);

    const status = await cli(['daemon', 'status', '--json'], { home, env });
    assert.equal(status.code, 0);
    assert.equal(JSON.parse(status.stdout).pid, rec.pid);
  } finally {
    const stopped = await cli(['daemon', 'stop'], { home, env });
    assert.equal(stopped.code, 0, stopped.stderr);
  }
  assert.equal(alive(rec.pid), false);
  assert.equal(existsSync(join(home, 'state', 'daemon.json')), false);
  assert.equal((await cli(['daemon', 'status'], { home, env })).code, 3);
});

test('daemon stop leaves alone a process that a stale pid file names', async () => {
  const home = tempHome();
  const bystander = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
  try {
    await new Promise((r) => bystander.once('spawn', r));
    mkdirSync(join(home, 'state'), { recursive: true });
    writeFileSync(join(home, 'state', 'daemon.json'), JSON.stringify({ pid: bystander.pid, url: 'http://127.0.0.1:9', startedAt: new Date().toISOString() }));
    const r = await cli(['daemon', 'stop'], { home });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /stale pid file.*left alone/);
    assert.equal(alive(bystander.pid!), true);
    assert.equal(existsSync(join(home, 'state', 'daemon.json')), false);
  } finally {
    bystander.kill('SIGKILL');
  }
});
