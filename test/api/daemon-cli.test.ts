/**
 * The CLI with a running daemon: commands go over the daemon's unix socket (its audit records prove which
 * process did the work), and fall back to in-process work for what the wire cannot carry, for limits above the
 * daemon's, when opted out, and when the daemon is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, tempHome } from '../helpers/cli.js';

interface Rec { event: string; outcome: string; origin: string; pid: number; sandbox?: string }

/** The audit log, read directly (both the CLI and the daemon write to this home's log). */
async function records(home: string): Promise<Rec[]> {
  const text = readFileSync(join(home, 'state', 'audit', 'audit.log'), 'utf8').trim();
  return text ? text.split('\n').map((l) => JSON.parse(l) as Rec) : [];
}

/** Who ended the latest record of this event: 'daemon' or 'cli'. */
async function whoDid(home: string, event: string, daemonPid: number): Promise<string> {
  const mine = (await records(home)).filter((r) => r.event === event && r.outcome !== 'started');
  const last = mine.at(-1);
  assert.ok(last, `a ${event} record`);
  if (last.pid === daemonPid) {
    assert.equal(last.origin, 'http');
    return 'daemon';
  }
  assert.equal(last.origin, 'cli');
  return 'cli';
}

test('CLI commands use the daemon over its unix socket, and work in-process when they must', async (t) => {
  const home = tempHome();
  const env = { AGENTKERNEL_API_KEY: '' };
  const started = await cli(['daemon', 'start', '-B', 'wasm', '--timeout', '20000'], { home, env, timeoutMs: 90_000 });
  assert.equal(started.code, 0, started.stderr);
  const rec = JSON.parse(readFileSync(join(home, 'state', 'daemon.json'), 'utf8')) as { pid: number; socket: string; url?: string };
  t.after(async () => { await cli(['daemon', 'stop'], { home }); });
  assert.equal(rec.url, undefined, 'no TCP listener unless asked');
  assert.equal(rec.socket, join(home, 'state', 'daemon.sock'));
  assert.ok(statSync(rec.socket).isSocket());
  assert.equal(statSync(rec.socket).mode & 0o777, 0o600, 'only its user may connect');
  assert.match((await cli(['daemon', 'status'], { home })).stdout, /running at unix:.*daemon\.sock/);

  // code runs in the daemon, output streamed back through the socket
  const code = await cli(['run-code', 'javascript', 'console.log(6*7); console.error("e")'], { home });
  assert.equal(code.code, 0, code.stderr);
  assert.equal(code.stdout, '42\n');
  assert.match(code.stderr, /^e\n/);
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'daemon');

  // exit codes and stdin travel as they do in-process
  const failing = await cli(['run-code', 'python', '-', '--json'], { home, stdin: 'import sys\nprint(sys.stdin.read() if False else "x")\nraise SystemExit(3)' });
  assert.equal(failing.code, 3, failing.stderr);
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'daemon');

  // a persistent sandbox managed through the daemon, files both ways
  assert.equal((await cli(['create', 'via-daemon', '-B', 'wasm'], { home })).code, 0);
  assert.equal(await whoDid(home, 'sandbox.create', rec.pid), 'daemon');
  const ex = await cli(['exec', 'via-daemon', '--', 'sh', '-c', 'echo inside > /workspace/f.txt; cat /workspace/f.txt'], { home });
  assert.equal(ex.code, 0, ex.stderr);
  assert.equal(ex.stdout, 'inside\n');
  const out = join(mkdtempSync(join(tmpdir(), 'ak-cp-')), 'f.txt');
  assert.equal((await cli(['cp', 'via-daemon:/workspace/f.txt', out], { home })).code, 0);
  assert.equal(readFileSync(out, 'utf8'), 'inside\n');
  assert.match((await cli(['list'], { home })).stdout, /via-daemon\s+wasm/);
  assert.equal((await cli(['remove', 'via-daemon'], { home })).code, 0);
  assert.equal(await whoDid(home, 'sandbox.remove', rec.pid), 'daemon');

  // what the daemon cannot do exactly as asked runs here: a timeout above its ceiling, an opt-out, --dir
  assert.equal((await cli(['run-code', '--timeout', '25000', 'javascript', 'console.log(1)'], { home })).code, 0);
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'cli');
  assert.equal((await cli(['run-code', 'javascript', 'console.log(2)'], { home, env: { AGENTKERNEL_NO_DAEMON: '1' } })).code, 0);
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'cli');
  const project = mkdtempSync(join(tmpdir(), 'ak-proj-'));
  writeFileSync(join(project, 'agentkernel.toml'), '[resources]\ntimeout_ms = 9000\n');
  assert.equal((await cli(['run-code', 'javascript', 'console.log(3)'], { home, cwd: project })).code, 0);
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'cli', 'a project config means in-process');

  // the daemon killed outright: its socket file stays behind, and the CLI still works (in-process)
  process.kill(rec.pid, 'SIGKILL');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(rec.pid, 0);
      await new Promise((r) => setTimeout(r, 50));
    } catch {
      break;
    }
  }
  assert.ok(existsSync(rec.socket), 'a killed server leaves its socket file');
  const after = await cli(['run-code', 'javascript', 'console.log(4)'], { home });
  assert.equal(after.code, 0, after.stderr);
  assert.equal(after.stdout, '4\n');
  assert.equal(await whoDid(home, 'run.code', rec.pid), 'cli');

  // a new daemon replaces the stale socket
  const again = await cli(['daemon', 'start', '-B', 'wasm'], { home, env, timeoutMs: 90_000 });
  assert.equal(again.code, 0, again.stderr);
  const rec2 = JSON.parse(readFileSync(join(home, 'state', 'daemon.json'), 'utf8')) as { pid: number };
  assert.notEqual(rec2.pid, rec.pid);
  assert.equal((await cli(['run-code', 'javascript', 'console.log(5)'], { home })).stdout, '5\n');
  assert.equal(await whoDid(home, 'run.code', rec2.pid), 'daemon');
});
