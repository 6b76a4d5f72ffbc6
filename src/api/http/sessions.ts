/**
 * Code sessions over HTTP and MCP: request and response schemas, the wire form of a session, the operations both
 * interfaces share, and the HTTP routes (built with the route table's own helpers). Tools cannot be registered
 * over the wire: a tool is a function in the caller's process (docs/sessions.md).
 */
import type { Context } from 'hono';
import { z } from 'zod';
import type { ExecResult, RunHooks } from '../../core/types.js';
import type { SessionInfo, SnapshotInfo } from '../../service/sessions.js';
import { execOptions, type ApiContext } from './operations.js';
import type { RouteSpec } from './routes.js';
import { EnvSchema, LANGUAGES, SandboxNameSchema, limitFields } from './schemas.js';

export const SessionCreateRequestSchema = z
  .object({
    name: SandboxNameSchema.optional().describe('Session name; default: a generated one'),
    language: z.enum(LANGUAGES),
    backend: z.enum(['wasm', 'hyperlight']).optional().describe('Backend; default: wasm (the one with sessions)'),
    memory_mb: z.number().int().positive().optional().describe('Memory for the session\'s interpreter at start, MiB'),
  })
  .strict()
  .describe('Start a code session: an interpreter whose state survives between calls');

export const SessionRunRequestSchema = z
  .object({
    code: z.string().describe('Code run in the session; what it defines stays for the next call'),
    env: EnvSchema.optional(),
    stdin: z.string().optional().describe('Standard input for this call (UTF-8 text)'),
    ...limitFields,
  })
  .strict()
  .describe('Run code in a session');

export const SnapshotRequestSchema = z
  .object({ snapshot: SandboxNameSchema.optional().describe('Snapshot name; default: snap-N (snapshot) or the latest (restore)') })
  .strict();

export const ForkRequestSchema = z
  .object({
    name: SandboxNameSchema.optional().describe('Name of the new session; default: a generated one'),
    snapshot: SandboxNameSchema.optional().describe('Start from this snapshot; default: the session as it is now'),
  })
  .strict()
  .describe('Start a new session from a snapshot of this one');

export const SnapshotInfoSchema = z.object({ name: z.string(), bytes: z.number().int(), created_at: z.string() });

export const SessionInfoSchema = z.object({
  name: z.string(),
  language: z.enum(LANGUAGES),
  backend: z.string(),
  created_at: z.string(),
  calls: z.number().int(),
  forked_from: z.object({ session: z.string(), snapshot: z.string().optional() }).optional(),
  snapshots: z.array(SnapshotInfoSchema),
  tools: z.array(z.string()).describe('Tools registered in the server\'s process (none can be registered over HTTP)'),
});

export type SessionCreateRequest = z.infer<typeof SessionCreateRequestSchema>;
export type SessionRunRequest = z.infer<typeof SessionRunRequestSchema>;
export type SnapshotRequest = z.infer<typeof SnapshotRequestSchema>;
export type ForkRequest = z.infer<typeof ForkRequestSchema>;
export type WireSessionInfo = z.infer<typeof SessionInfoSchema>;
export type WireSnapshotInfo = z.infer<typeof SnapshotInfoSchema>;

export function toWireSnapshot(s: SnapshotInfo): WireSnapshotInfo {
  return { name: s.name, bytes: s.bytes, created_at: s.createdAt };
}

export function toWireSession(s: SessionInfo): WireSessionInfo {
  return {
    name: s.name, language: s.language, backend: s.backend, created_at: s.createdAt, calls: s.calls,
    ...(s.forkedFrom ? { forked_from: s.forkedFrom } : {}),
    snapshots: s.snapshots.map(toWireSnapshot), tools: s.tools,
  };
}

// the converters live in wire.ts, which loads no zod, so that the CLI and SDK can use them cheaply
export { fromWireSession, fromWireSnapshot } from './wire.js';

// ---- operations shared by HTTP and MCP -------------------------------------------------------------------------

export async function createSession(ctx: ApiContext, b: SessionCreateRequest): Promise<WireSessionInfo> {
  if (b.memory_mb !== undefined) execOptions(ctx, { memory_mb: b.memory_mb }, {});
  return toWireSession(await ctx.kernel.createSession({ name: b.name, language: b.language, backend: b.backend, memoryMb: b.memory_mb }));
}

export function runInSession(ctx: ApiContext, name: string, b: SessionRunRequest, hooks: RunHooks = {}): Promise<ExecResult> {
  const { cwd: _c, ...o } = execOptions(ctx, b, hooks);
  return ctx.kernel.runInSession(name, b.code, o);
}

export async function snapshotSession(ctx: ApiContext, name: string, b: SnapshotRequest): Promise<WireSnapshotInfo> {
  return toWireSnapshot(await ctx.kernel.snapshotSession(name, b.snapshot));
}

export async function restoreSession(ctx: ApiContext, name: string, b: SnapshotRequest): Promise<WireSnapshotInfo> {
  return toWireSnapshot(await ctx.kernel.restoreSession(name, b.snapshot));
}

export async function forkSession(ctx: ApiContext, name: string, b: ForkRequest): Promise<WireSessionInfo> {
  return toWireSession(await ctx.kernel.forkSession(name, { name: b.name, snapshot: b.snapshot }));
}

// ---- HTTP routes -----------------------------------------------------------------------------------------------

interface RouteHelpers {
  route<B>(spec: RouteSpec<B>): RouteSpec;
  ok(c: Context, data?: unknown, status?: 200 | 201): Response;
  runPair<B>(path: string, tag: RouteSpec['tag'], summary: string, schema: z.ZodType<B>,
    run: (c: Context, ctx: ApiContext, body: B, hooks: RunHooks) => Promise<ExecResult>): RouteSpec[];
}

export function sessionRoutes({ route, ok, runPair }: RouteHelpers): RouteSpec[] {
  const name = (c: Context): string => c.req.param('name')!;
  return [
    route({
      method: 'get', path: '/sessions', tag: 'sessions', summary: 'List the code sessions of this server',
      response: z.array(SessionInfoSchema),
      handler: (c, ctx) => ok(c, ctx.kernel.listSessions().map(toWireSession)),
    }),
    route({
      method: 'post', path: '/sessions', tag: 'sessions', summary: 'Start a code session (state kept between calls)', status: 201,
      body: SessionCreateRequestSchema, response: SessionInfoSchema,
      handler: async (c, ctx, b: SessionCreateRequest) => ok(c, await createSession(ctx, b), 201),
    }),
    route({
      method: 'get', path: '/sessions/{name}', tag: 'sessions', summary: 'Get a code session', response: SessionInfoSchema,
      handler: (c, ctx) => ok(c, toWireSession(ctx.kernel.sessions.info(name(c)))),
    }),
    route({
      method: 'delete', path: '/sessions/{name}', tag: 'sessions', summary: 'Close a code session (its snapshots go with it)', response: null,
      handler: async (c, ctx) => {
        await ctx.kernel.closeSession(name(c));
        return ok(c);
      },
    }),
    ...runPair('/sessions/{name}/run', 'sessions', 'Run code in a session', SessionRunRequestSchema,
      (c, ctx, b, h) => runInSession(ctx, name(c), b, h)),
    route({
      method: 'post', path: '/sessions/{name}/snapshot', tag: 'sessions', summary: 'Snapshot a session\'s interpreter state',
      body: SnapshotRequestSchema, response: SnapshotInfoSchema,
      handler: async (c, ctx, b: SnapshotRequest) => ok(c, await snapshotSession(ctx, name(c), b)),
    }),
    route({
      method: 'post', path: '/sessions/{name}/restore', tag: 'sessions', summary: 'Put a snapshot back (the latest by default)',
      body: SnapshotRequestSchema, response: SnapshotInfoSchema,
      handler: async (c, ctx, b: SnapshotRequest) => ok(c, await restoreSession(ctx, name(c), b)),
    }),
    route({
      method: 'post', path: '/sessions/{name}/fork', tag: 'sessions', summary: 'Start a new session from a snapshot of this one', status: 201,
      body: ForkRequestSchema, response: SessionInfoSchema,
      handler: async (c, ctx, b: ForkRequest) => ok(c, await forkSession(ctx, name(c), b), 201),
    }),
  ];
}
