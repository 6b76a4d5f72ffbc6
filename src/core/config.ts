/**
 * Configuration: agentkernel.toml (compatible with the original agentkernel's sections) merged with environment
 * variables and flags. Precedence, lowest first: security profile defaults < agentkernel.toml < environment < flags.
 * Unknown keys are an error: a typo in a security setting must never be silently ignored.
 */
import { readFileSync, existsSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { createRequire } from 'node:module';
import type { z as Z } from 'zod';
import { ConfigError } from './errors.js';
import { getProfile, type SecurityProfile } from './profiles.js';
import type { BackendName, Limits } from './types.js';
import type { AuditSettings } from '../audit/types.js';
import { location } from './paths.js';

export const BACKEND_NAMES = ['hyperlight', 'wasm', 'docker', 'podman', 'firecracker', 'qemu', 'apple'] as const;

/**
 * The schema is built on first use: zod costs tens of milliseconds to load, and most CLI runs have no config file,
 * so a run without agentkernel.toml never loads it.
 */
function buildSchema(z: typeof Z) {
  const positiveInt = z.number().int().positive();
  return z
  .object({
    sandbox: z
      .object({
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'alphanumeric, hyphens, underscores').optional(),
        base_image: z.string().min(1).optional(),
        backend: z.enum(BACKEND_NAMES).optional(),
        runtime: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
    build: z
      .object({
        dockerfile: z.string().optional(),
        context: z.string().optional(),
        target: z.string().optional(),
        no_cache: z.boolean().optional(),
        args: z.record(z.string(), z.string()).optional(),
      })
      .strict()
      .optional(),
    agent: z
      .object({
        preferred: z.enum(['claude', 'codex', 'gemini', 'opencode']).optional(),
        compatibility_mode: z.enum(['claude', 'codex', 'gemini', 'opencode']).optional(),
      })
      .strict()
      .optional(),
    resources: z
      .object({
        vcpus: positiveInt.optional(),
        memory_mb: positiveInt.optional(),
        timeout_ms: positiveInt.optional(),
        output_bytes: positiveInt.optional(),
        pids_limit: positiveInt.optional(),
      })
      .strict()
      .optional(),
    security: z
      .object({
        profile: z.enum(['permissive', 'moderate', 'restrictive']).optional(),
        network: z.boolean().optional(),
        mount_cwd: z.boolean().optional(),
        mount_home: z.boolean().optional(),
        pass_env: z.boolean().optional(),
        read_only: z.boolean().optional(),
      })
      .strict()
      .optional(),
    network: z
      .object({
        vsock_cid: z.number().int().min(3).optional(),
      })
      .strict()
      .optional(),
    files: z
      .array(z.object({ source: z.string().min(1), dest: z.string().startsWith('/') }).strict())
      .optional(),
    server: z
      .object({
        host: z.string().optional(),
        port: z.number().int().min(0).max(65535).optional(),
      })
      .strict()
      .optional(),
    audit: z
      .object({
        enabled: z.boolean().optional(),
        path: z.string().min(1).optional(),
        max_file_mb: z.number().positive().optional(),
        max_files: z.number().int().min(0).max(1000).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
}

let schema: ReturnType<typeof buildSchema> | undefined;
export function configSchema(): ReturnType<typeof buildSchema> {
  schema ??= buildSchema((createRequire(import.meta.url)('zod') as { z: typeof Z }).z);
  return schema;
}

export type ConfigFile = Z.infer<ReturnType<typeof buildSchema>>;

/** Turn zod issues into one readable line per problem, with the TOML key path. */
function describeIssues(err: Z.ZodError): string {
  return err.issues
    .map((i) => {
      const path = i.path.join('.');
      if (i.code === 'unrecognized_keys') {
        const keys = (i as { keys: string[] }).keys.map((k) => (path ? `${path}.${k}` : k));
        return `unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}`;
      }
      return `${path || '(root)'}: ${i.message}`;
    })
    .join('; ');
}

/** Parse and validate TOML text. `source` is used in error messages. */
export function parseConfig(text: string, source = 'agentkernel.toml'): ConfigFile {
  let raw: unknown;
  try {
    // loaded on first use, like zod: most runs have no config file
    raw = (createRequire(import.meta.url)('smol-toml') as { parse: (t: string) => unknown }).parse(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  const r = configSchema().safeParse(raw);
  if (!r.success) throw new ConfigError(`${source}: ${describeIssues(r.error)}`);
  return r.data;
}

/**
 * Load the config file: an explicit path (must exist), else $AGENTKERNEL_CONFIG, else ./agentkernel.toml if present.
 * Returns an empty config when there is no file.
 */
export function loadConfig(explicitPath?: string, cwd = process.cwd(), env = process.env): { config: ConfigFile; path?: string } {
  const p = explicitPath ?? env.AGENTKERNEL_CONFIG;
  if (p) {
    const abs = resolve(cwd, p);
    if (!existsSync(abs)) throw new ConfigError(`config file not found: ${abs}`);
    return { config: parseConfig(readFileSync(abs, 'utf8'), abs), path: abs };
  }
  const local = resolve(cwd, 'agentkernel.toml');
  if (existsSync(local)) return { config: parseConfig(readFileSync(local, 'utf8'), local), path: local };
  return { config: {} };
}

/** Options that flags can set; each overrides the environment and the file. */
export interface SettingsOverrides {
  backend?: string;
  profile?: string;
  timeoutMs?: number;
  memoryMb?: number;
  outputBytes?: number;
  cpus?: number;
  network?: boolean;
  image?: string;
}

export interface Settings {
  backend?: BackendName;
  image?: string;
  profile: SecurityProfile;
  limits: Limits;
  cpus: number;
  pidsLimit: number;
  configPath?: string;
  configDir: string;
  files: { source: string; dest: string }[];
  server: { host: string; port: number };
  audit: AuditSettings;
}

function envInt(env: NodeJS.ProcessEnv, key: string): number | undefined {
  const v = env[key];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`${key} must be a positive integer, got '${v}'`);
  return n;
}

export function parseBackendName(name: string): BackendName {
  if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`unknown backend '${name}' (known: ${BACKEND_NAMES.join(', ')})`);
  }
  return name as BackendName;
}

/** AGENTKERNEL_AUDIT=off (or 0/false) turns the log off; AGENTKERNEL_AUDIT_PATH moves it. */
function resolveAudit(c: ConfigFile['audit'], configDir: string, env: NodeJS.ProcessEnv): AuditSettings {
  const flag = env.AGENTKERNEL_AUDIT?.toLowerCase();
  if (flag !== undefined && !['', 'on', '1', 'true', 'off', '0', 'false'].includes(flag)) {
    throw new ConfigError(`AGENTKERNEL_AUDIT must be on or off, got '${env.AGENTKERNEL_AUDIT}'`);
  }
  const enabled = flag === 'off' || flag === '0' || flag === 'false' ? false : (c?.enabled ?? true);
  const path = env.AGENTKERNEL_AUDIT_PATH || (c?.path ? resolve(configDir, c.path) : location('state', 'audit', 'audit.log'));
  return {
    enabled,
    path,
    maxFileBytes: Math.round((c?.max_file_mb ?? 10) * 1024 * 1024),
    maxFiles: c?.max_files ?? 5,
  };
}

/** Merge profile defaults, file, environment and flags into the settings every command uses. */
export function resolveSettings(
  file: { config: ConfigFile; path?: string },
  overrides: SettingsOverrides = {},
  env: NodeJS.ProcessEnv = process.env,
): Settings {
  const c = file.config;
  const profileName = overrides.profile ?? env.AGENTKERNEL_PROFILE ?? c.security?.profile;
  const base = getProfile(profileName);
  const sec = c.security ?? {};
  const profile: SecurityProfile = {
    ...base,
    network: overrides.network ?? sec.network ?? base.network,
    mountCwd: sec.mount_cwd ?? base.mountCwd,
    mountHome: sec.mount_home ?? base.mountHome,
    passEnv: sec.pass_env ?? base.passEnv,
    readOnlyRoot: sec.read_only ?? base.readOnlyRoot,
  };
  const backendName = overrides.backend ?? env.AGENTKERNEL_BACKEND ?? c.sandbox?.backend;
  const limits: Limits = {
    timeoutMs: overrides.timeoutMs ?? envInt(env, 'AGENTKERNEL_TIMEOUT_MS') ?? c.resources?.timeout_ms ?? base.timeoutMs,
    memoryMb: overrides.memoryMb ?? envInt(env, 'AGENTKERNEL_MEMORY_MB') ?? c.resources?.memory_mb ?? base.memoryMb,
    outputBytes: overrides.outputBytes ?? envInt(env, 'AGENTKERNEL_OUTPUT_BYTES') ?? c.resources?.output_bytes ?? base.outputBytes,
  };
  for (const [k, v] of Object.entries(limits)) {
    if (!Number.isInteger(v) || v <= 0) throw new ConfigError(`${k} must be a positive integer, got ${v}`);
  }
  return {
    backend: backendName ? parseBackendName(backendName) : undefined,
    image: overrides.image ?? c.sandbox?.base_image,
    profile,
    limits,
    cpus: overrides.cpus ?? c.resources?.vcpus ?? base.cpus,
    pidsLimit: c.resources?.pids_limit ?? base.pidsLimit,
    configPath: file.path,
    configDir: file.path ? dirname(file.path) : process.cwd(),
    files: c.files ?? [],
    server: {
      host: c.server?.host ?? env.AGENTKERNEL_HOST ?? '127.0.0.1',
      port: c.server?.port ?? envInt(env, 'AGENTKERNEL_PORT') ?? 18888,
    },
    audit: resolveAudit(c.audit, file.path ? dirname(file.path) : process.cwd(), env),
  };
}
