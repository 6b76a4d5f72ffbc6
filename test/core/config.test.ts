import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig, resolveSettings } from '../../src/core/config.js';
import { getProfile, PROFILES } from '../../src/core/profiles.js';
import { ConfigError } from '../../src/core/errors.js';
import { BoundedOutput } from '../../src/core/output.js';

test('config: sections of the original agentkernel.toml parse', () => {
  const c = parseConfig(`
[sandbox]
name = "my-project"
base_image = "python:3.12-alpine"
[resources]
vcpus = 2
memory_mb = 1024
[security]
profile = "restrictive"
network = false
mount_cwd = true
[network]
vsock_cid = 3
[[files]]
source = ".env"
dest = "/app/.env"
`);
  assert.equal(c.sandbox?.base_image, 'python:3.12-alpine');
  const s = resolveSettings({ config: c }, {}, {});
  assert.equal(s.profile.name, 'restrictive');
  assert.equal(s.profile.mountCwd, true, 'an explicit key overrides the profile default');
  assert.equal(s.limits.memoryMb, 1024);
  assert.equal(s.cpus, 2);
});

test('config: unknown keys are errors that name the key', () => {
  assert.throws(() => parseConfig('[security]\nnetwrok = false\n'), (e: unknown) => e instanceof ConfigError && /security\.netwrok/.test(e.message));
  assert.throws(() => parseConfig('[bogus]\nx = 1\n'), /unknown key bogus/);
  assert.throws(() => parseConfig('[resources]\nmemory_mb = -5\n'), /resources\.memory_mb/);
  assert.throws(() => parseConfig('not toml ['), /invalid TOML/);
});

test('config: precedence is profile < file < environment < flags', () => {
  const file = { config: parseConfig('[resources]\ntimeout_ms = 5000\n') };
  assert.equal(resolveSettings(file, {}, {}).limits.timeoutMs, 5000);
  assert.equal(resolveSettings(file, {}, { AGENTKERNEL_TIMEOUT_MS: '7000' }).limits.timeoutMs, 7000);
  assert.equal(resolveSettings(file, { timeoutMs: 9000 }, { AGENTKERNEL_TIMEOUT_MS: '7000' }).limits.timeoutMs, 9000);
  assert.equal(resolveSettings({ config: {} }, {}, {}).limits.timeoutMs, PROFILES.moderate.timeoutMs);
  assert.throws(() => resolveSettings(file, {}, { AGENTKERNEL_TIMEOUT_MS: 'soon' }), /AGENTKERNEL_TIMEOUT_MS/);
  assert.throws(() => resolveSettings(file, { backend: 'vmware' }, {}), /unknown backend 'vmware'/);
});

test('profiles: unknown names are errors; the three are distinct and concrete', () => {
  assert.throws(() => getProfile('paranoid'), /unknown security profile 'paranoid'.*permissive, moderate, restrictive/);
  assert.equal(getProfile(undefined).name, 'moderate');
  assert.equal(PROFILES.restrictive.network, false);
  assert.equal(PROFILES.restrictive.readOnlyRoot, true);
  assert.ok(PROFILES.restrictive.memoryMb < PROFILES.moderate.memoryMb);
});

test('bounded output keeps the cap, counts the rest and never splits a character for the listener', () => {
  const seen: string[] = [];
  const o = new BoundedOutput(10, (t) => seen.push(t));
  o.write('hello ');
  o.write(Buffer.from('wörld and more'));
  o.end();
  assert.equal(o.bytes().length, 10);
  assert.equal(o.truncated, true);
  assert.equal(o.total, 6 + Buffer.byteLength('wörld and more'));
  assert.equal(seen.join(''), o.text());
});
