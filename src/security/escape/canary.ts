/**
 * Canaries the escape corpus plants on the host: one random secret in files (host temp, the user's home, the
 * project directory), in an environment variable of this process, and as the greeting of a loopback listener that
 * also counts its connections. A case breaks if the secret (or the host's /etc/shadow) shows in anything a guest
 * returns, or if the listener was reached.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const CANARY_ENV = 'AGENTKERNEL_ESCAPE_CANARY';
export const SECRET_FILE = 'escape-secret.txt';

export interface CanaryOptions {
  /** The project directory (a canary is planted in a temporary directory inside it). @default process.cwd() */
  projectDir?: string;
  /** @default os.homedir() */
  homeDir?: string;
}

export interface Canaries {
  readonly secret: string;
  /** Host paths of the canary files, and of the directories the corpus uses. */
  readonly paths: {
    tmpSecret: string;
    homeSecret: string;
    projectSecret: string;
    /** a host directory no guest may write to */
    outside: string;
    /** a harmless directory preopened by Wasm attempts; holds `f.txt`, `link` -> tmpSecret, `linkdir` -> outside */
    data: string;
  };
  readonly port: number;
  /** Connections the loopback listener accepted so far. */
  connections(): number;
  /** Names in `outside` (must stay empty). */
  outsideEntries(): string[];
  /** Which canary shows in `text`, if any. */
  leak(text: string): string | undefined;
  close(): Promise<void>;
}

function hostShadowLine(): string | undefined {
  try {
    const first = readFileSync('/etc/shadow', 'utf8').split('\n')[0] ?? '';
    return first.length >= 10 ? first : undefined;
  } catch {
    return undefined;
  }
}

export async function plantCanaries(opts: CanaryOptions = {}): Promise<Canaries> {
  const secret = `ak-canary-${randomBytes(12).toString('hex')}`;
  const dirs: string[] = [];
  const made = (parent: string) => {
    const d = mkdtempSync(join(parent, '.ak-escape-'));
    dirs.push(d);
    return d;
  };
  const tmp = made(tmpdir());
  const home = made(opts.homeDir ?? homedir());
  const project = made(opts.projectDir ?? process.cwd());
  const paths = {
    tmpSecret: join(tmp, SECRET_FILE),
    homeSecret: join(home, SECRET_FILE),
    projectSecret: join(project, SECRET_FILE),
    outside: join(tmp, 'outside'),
    data: join(tmp, 'data'),
  };
  for (const p of [paths.tmpSecret, paths.homeSecret, paths.projectSecret]) writeFileSync(p, `${secret}\n`, { mode: 0o644 });
  mkdirSync(paths.outside);
  mkdirSync(paths.data);
  writeFileSync(join(paths.data, 'f.txt'), 'harmless\n');
  symlinkSync(paths.tmpSecret, join(paths.data, 'link'));
  symlinkSync(paths.outside, join(paths.data, 'linkdir'));

  const previousEnv = process.env[CANARY_ENV];
  process.env[CANARY_ENV] = secret;

  let connections = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.end(`${secret}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.unref();
  const port = (server.address() as { port: number }).port;
  const shadow = hostShadowLine();

  return {
    secret,
    paths,
    port,
    connections: () => connections,
    outsideEntries: () => readdirSync(paths.outside),
    leak(text: string) {
      if (text.includes(secret)) return 'the canary secret';
      if (shadow && text.includes(shadow)) return "the host's /etc/shadow";
      return undefined;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (previousEnv === undefined) delete process.env[CANARY_ENV];
      else process.env[CANARY_ENV] = previousEnv;
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
}
