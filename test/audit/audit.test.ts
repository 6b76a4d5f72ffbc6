import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { AuditLog, readAudit, redactArgv, REDACTED, parseSince, type AuditSettings } from '../../src/audit/index.js';
import { parseConfig, resolveSettings } from '../../src/core/config.js';
import { ConfigError, NotFoundError } from '../../src/core/errors.js';
import { AgentKernel } from '../../src/service/kernel.js';
import { SandboxStore } from '../../src/service/store.js';
import { cli, tempHome } from '../helpers/cli.js';

function tempSettings(over: Partial<AuditSettings> = {}): AuditSettings {
  const d = mkdtempSync(join(tmpdir(), 'ak-audit-'));
  return { enabled: true, path: join(d, 'audit.log'), maxFileBytes: 1 << 20, maxFiles: 3, ...over };
}

test('audit redaction: secrets passed in argv never reach the record', () => {
  const secret = fc.stringMatching(/^[A-Za-z0-9]{12,40}$/);
  fc.assert(
    fc.property(secret, fc.constantFrom('password', 'TOKEN', 'api_key', 'GITHUB_TOKEN', 'client-secret', 'Authorization'), (s, name) => {
      const forms = [
        [`--${name}=${s}`], [`${name.toUpperCase().replace(/-/g, '_')}=${s}`], [`--${name}`, s], ['-H', `${name}: Bearer ${s}`],
        ['curl', `https://user:${s}@example.invalid/x`], ['-H', `Authorization: token ${s}`],
      ];
      for (const argv of forms) {
        const out = redactArgv(['cmd', ...argv]).join(' ');
        assert.ok(!out.includes(s), `${JSON.stringify(argv)} -> ${out}`);
        assert.ok(out.includes(REDACTED));
      }
    }),
    { numRuns: 200 },
  );
  // well-known token shapes anywhere in an argument
  for (const tok of ['AKIAABCDEFGHIJKLMNOP', `ghp_${'a'.repeat(36)}`, `sk-${'b'.repeat(40)}`, 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.c2lnbmF0dXJlLXNpZ24']) {
    assert.ok(!redactArgv(['echo', `key is ${tok}`]).join(' ').includes(tok), tok);
  }
  // ordinary arguments stay as they are
  assert.deepEqual(redactArgv(['python3', '-c', 'print(1)', '--verbose', 'KEYBOARD=us', 'file.txt']), ['python3', '-c', 'print(1)', '--verbose', 'KEYBOARD=us', 'file.txt']);
});

test('audit log: size rotation keeps at most maxFiles rotated files, newest records kept, every line whole', () => {
  const s = tempSettings({ maxFileBytes: 4096, maxFiles: 2 });
  const log = new AuditLog(s, 'library');
  for (let i = 0; i < 400; i++) log.write('sandbox.exec', 'ok', { sandbox: `sb${i}`, argv: ['echo', String(i)], exitCode: 0 });
  const dir = join(s.path, '..');
  const files = readdirSync(dir).filter((f) => f.startsWith('audit.log'));
  assert.deepEqual(files.sort(), ['audit.log', 'audit.log.1', 'audit.log.2'], 'live + 2 rotated, older ones deleted');
  for (const f of files) assert.ok(statSync(join(dir, f)).size <= 4096, `${f} within the size limit`);
  const { records, invalid } = readAudit(s);
  assert.deepEqual(invalid, []);
  assert.equal(records.at(-1)!.sandbox, 'sb399', 'the newest record is kept');
  assert.ok(records.length < 400 && records.length > 20, `the oldest were dropped (kept ${records.length})`);
  const seq = records.map((r) => Number(r.sandbox!.slice(2)));
  assert.deepEqual(seq, [...seq].sort((a, b) => a - b), 'files are read oldest first');
  assert.equal(statSync(s.path).mode & 0o777, 0o600, 'the log is readable by its owner only');
  rmSync(dir, { recursive: true, force: true });
});

test('audit log: concurrent writer processes never interleave lines', async () => {
  const s = tempSettings({ maxFileBytes: 64 * 1024, maxFiles: 50 });
  const mod = new URL('../../src/audit/log.js', import.meta.url).href;
  const script = `import { AuditLog } from ${JSON.stringify(mod)};
const log = new AuditLog(${JSON.stringify(s)}, 'cli');
for (let i = 0; i < 300; i++) log.write('run.command', 'ok', { argv: ['w' + process.argv[1], String(i), 'x'.repeat(200)] });`;
  const writers = Array.from({ length: 4 }, (_, w) => new Promise<number | null>((resolve) => {
    const c = spawn(process.execPath, ['--input-type=module', '-e', script, String(w)], { stdio: 'inherit' });
    c.on('close', resolve);
  }));
  assert.deepEqual(await Promise.all(writers), [0, 0, 0, 0]);
  const { records, invalid } = readAudit(s);
  assert.deepEqual(invalid, [], 'no torn or interleaved line');
  assert.equal(records.length, 1200, 'nothing lost across rotations');
  for (let w = 0; w < 4; w++) {
    const mine = records.filter((r) => r.argv![0] === `w${w}`).map((r) => Number(r.argv![1]));
    assert.deepEqual(mine, [...Array(300).keys()], `writer ${w}: all records, in its order`);
  }
  rmSync(join(s.path, '..'), { recursive: true, force: true });
});

test('audit through the kernel: runs and lifecycle are recorded, env values and code never are', async (t) => {
  const home = tempHome();
  const old = process.env.AGENTKERNEL_HOME;
  process.env.AGENTKERNEL_HOME = home;
  t.after(() => {
    if (old === undefined) delete process.env.AGENTKERNEL_HOME;
    else process.env.AGENTKERNEL_HOME = old;
  });
  const k = new AgentKernel({ store: new SandboxStore(), origin: 'sdk', overrides: { backend: 'wasm' } });
  t.after(() => k.close());
  const secret = 'hunter2-canary-value-0xC0FFEE';
  const r = await k.runCode('javascript', `const pw = "${secret}"; console.log(pw.length + process.env.SECRET.length)`, { env: { SECRET: secret } });
  assert.equal(r.exitCode, 0, r.stderr);
  await k.create({ name: 'audited-sb' });
  await k.writeFile('audited-sb', '/workspace/a.txt', secret);
  await assert.rejects(k.exec('no-such-sb', ['true']), NotFoundError);
  await k.remove('audited-sb');

  const text = readFileSync(k.settings.audit.path, 'utf8');
  assert.ok(!text.includes(secret), 'neither the env value, the code nor the file content is written');
  const { records } = readAudit(k.settings.audit);
  const events = records.map((x) => `${x.event}:${x.outcome}`);
  assert.deepEqual(events, [
    'run.code:started', 'run.code:ok', 'sandbox.create:ok', 'file.write:ok', 'sandbox.exec:started', 'sandbox.exec:error', 'sandbox.remove:ok',
  ]);
  const [start, end] = records;
  assert.equal(start!.id, end!.id, 'start and end of one run share an id');
  assert.equal(end!.language, 'javascript');
  assert.equal(end!.exitCode, 0);
  assert.equal(end!.backend, 'wasm');
  assert.deepEqual(end!.envKeys, ['SECRET']);
  assert.match(end!.sha256!, /^[0-9a-f]{64}$/);
  assert.ok(records.every((x) => x.origin === 'sdk' && x.pid === process.pid));
  assert.equal(records[5]!.error!.name, 'NotFoundError');
  assert.equal(records[2]!.backend, 'wasm');
});

test('audit config: [audit] keys, unknown keys rejected, AGENTKERNEL_AUDIT=off disables', () => {
  const s = resolveSettings({ config: parseConfig('[audit]\nmax_file_mb = 1\nmax_files = 2\npath = "logs/a.log"'), path: '/etc/ak/agentkernel.toml' }, {}, {});
  assert.deepEqual(s.audit, { enabled: true, path: '/etc/ak/logs/a.log', maxFileBytes: 1 << 20, maxFiles: 2 });
  assert.throws(() => parseConfig('[audit]\nretention = 3'), /unknown key audit\.retention/);
  assert.equal(resolveSettings({ config: {} }, {}, { AGENTKERNEL_AUDIT: 'off' }).audit.enabled, false);
  assert.throws(() => resolveSettings({ config: {} }, {}, { AGENTKERNEL_AUDIT: 'maybe' }), ConfigError);
  const st = tempSettings({ enabled: false });
  new AuditLog(st).write('run.code', 'ok', {});
  assert.throws(() => statSync(st.path), /ENOENT/, 'a disabled log writes nothing');
  assert.throws(() => parseSince('yesterday-ish'), /invalid time/);
  assert.equal(parseSince('2h', 10_000_000).getTime(), 10_000_000 - 7_200_000);
});

test('agentkernel audit: filters, JSON lines, and a damaged line reported', async () => {
  const home = tempHome();
  const run = await cli(['run-code', '-B', 'wasm', 'javascript', 'console.log(6*7)'], { home });
  assert.equal(run.code, 0, run.stderr);
  const bad = await cli(['inspect', 'missing-one'], { home });
  assert.equal(bad.code, 4);

  const all = await cli(['audit', '--json'], { home });
  assert.equal(all.code, 0, all.stderr);
  const recs = all.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(recs.map((r) => `${r.event}:${r.outcome}:${r.origin}`), ['run.code:started:cli', 'run.code:ok:cli']);

  const table = await cli(['audit', '--event', 'run.', '--outcome', 'ok', '--since', '1h'], { home });
  assert.equal(table.code, 0, table.stderr);
  assert.equal(table.stdout.trim().split('\n').length, 1);
  assert.match(table.stdout, /cli\s+run\.code\s+wasm.*exit 0\s+javascript code [0-9a-f]{12}/);

  assert.equal((await cli(['audit', '--since', 'soon'], { home })).code, 2, 'a bad time is bad input');
  assert.equal((await cli(['audit', '-n', '1', '--json'], { home })).stdout.trim().split('\n').length, 1);

  const where = (await cli(['audit', '--path'], { home })).stdout.trim();
  appendFileSync(where, '{"torn\n');
  const damaged = await cli(['audit'], { home });
  assert.equal(damaged.code, 1);
  assert.match(damaged.stderr, /not an audit record: .*audit\.log:3/);
});
