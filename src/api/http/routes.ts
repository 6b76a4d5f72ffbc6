/**
 * The HTTP API as one table: each route's method, path, request and response schemas and handler. The app
 * registers these and the OpenAPI document is generated from the very same entries, so documentation and
 * validation cannot disagree.
 */
import type { Context } from 'hono';
import { z } from 'zod';
import type { RunHooks, ExecResult } from '../../core/types.js';
import {
  BackendStatusSchema, CodeRequestSchema, CreateSandboxRequestSchema, DirListingSchema, ExecRequestSchema, ExecResultSchema,
  FileWrittenSchema, RunRequestSchema, SandboxInfoSchema, WasmRequestSchema, ComponentRequestSchema,
} from './schemas.js';
import * as ops from './operations.js';
import type { ApiContext } from './operations.js';
import { streamRun } from './sse.js';
import { toWireResult, toWireSandbox } from './wire.js';
import { VERSION } from './version.js';
import { sessionRoutes } from './sessions.js';
import { clientSignal } from './node-request.js';

type Method = 'get' | 'post' | 'put' | 'delete';

export interface RouteSpec<B = unknown> {
  method: Method;
  /** OpenAPI path template, e.g. /sandboxes/{name}. */
  path: string;
  /** Hono's pattern when the template is not enough (a parameter that spans slashes). */
  pattern?: string;
  summary: string;
  description?: string;
  tag: 'service' | 'runs' | 'sandboxes' | 'files' | 'sessions';
  /** JSON body schema, or 'bytes' for a raw application/octet-stream body. */
  body?: z.ZodType<B> | 'bytes';
  /** The `data` schema of a success, 'sse' for an event stream, 'file' for raw bytes (or a JSON listing). */
  response: z.ZodType | 'sse' | 'file' | null;
  status?: 200 | 201;
  /** Reachable without the bearer token. */
  public?: boolean;
  handler: (c: Context, ctx: ApiContext, body: B) => Promise<Response> | Response;
  /**
   * The same operation for a route that needs nothing of the request but its JSON body: resolves to the `data` of
   * the success (status 200). The server answers such routes in its fast lane without hono (fast-lane.ts).
   */
  direct?: (ctx: ApiContext, body: B, hooks: RunHooks) => Promise<unknown>;
}

/** Helper that keeps each route's handler typed by its own body schema. */
function route<B>(spec: RouteSpec<B>): RouteSpec<unknown> {
  return spec as RouteSpec<unknown>;
}

const ok = (c: Context, data?: unknown, status: 200 | 201 = 200): Response =>
  c.json(data === undefined ? { success: true } : { success: true, data }, status);

/**
 * The run's result; `output` repeats stdout for clients of the original agentkernel API, which read only that
 * field from /run and /exec.
 */
const wireResult = (r: ExecResult, compatOutput: boolean): object =>
  compatOutput ? { ...toWireResult(r), output: r.stdout } : toWireResult(r);

/** A run that stops when the client goes away. */
const clientHooks = (c: Context): RunHooks => ({ signal: clientSignal(c) });

const name = (c: Context): string => c.req.param('name')!;

/**
 * The guest path of a file route: the URL's path after /files/, decoded. It is relative to the sandbox's working
 * directory, or absolute when it starts with an encoded slash (`/files/%2Fworkspace/a.txt`) or a doubled one.
 */
function filePath(c: Context): string {
  return ops.guestPath(c.req.param('path') ?? '');
}

const fileRoutes: RouteSpec[] = [
  route({
    method: 'get', path: '/sandboxes/{name}/files/{path}', pattern: '/sandboxes/:name/files/:path{.+}', tag: 'files',
    summary: 'Read a file (raw bytes) or list a directory (JSON)',
    description: 'A file comes back as application/octet-stream; a directory as JSON {success, data: {path, entries}}.',
    response: 'file',
    handler: async (c, ctx) => fileOrListing(c, ctx, filePath(c)),
  }),
  route({
    method: 'get', path: '/sandboxes/{name}/files', tag: 'files',
    summary: 'List the sandbox\'s working directory',
    response: DirListingSchema,
    handler: async (c, ctx) => fileOrListing(c, ctx, '.'),
  }),
  route({
    method: 'put', path: '/sandboxes/{name}/files/{path}', pattern: '/sandboxes/:name/files/:path{.+}', tag: 'files',
    summary: 'Write a file (raw bytes, Content-Type: application/octet-stream)',
    body: 'bytes', response: FileWrittenSchema,
    handler: async (c, ctx, data: Uint8Array) => {
      const path = filePath(c);
      await ctx.kernel.writeFile(name(c), path, data);
      return ok(c, { path, size: data.byteLength });
    },
  }),
  route({
    method: 'delete', path: '/sandboxes/{name}/files/{path}', pattern: '/sandboxes/:name/files/:path{.+}', tag: 'files',
    summary: 'Remove a file', response: null,
    handler: async (c, ctx) => {
      await ctx.kernel.removeFile(name(c), filePath(c));
      return ok(c);
    },
  }),
];

async function fileOrListing(c: Context, ctx: ApiContext, path: string): Promise<Response> {
  const got = await ops.readPath(ctx, name(c), path, clientSignal(c));
  if (got.kind === 'dir') return ok(c, { path, entries: got.entries });
  return c.body(got.data as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(got.data.byteLength) });
}

/** A run endpoint and its live-streaming twin, from one operation. */
function runPair<B>(path: string, tag: RouteSpec['tag'], summary: string, schema: z.ZodType<B>,
  run: (c: Context, ctx: ApiContext, body: B, hooks: RunHooks) => Promise<ExecResult>, compatOutput = false): RouteSpec[] {
  return [
    route({
      method: 'post', path, tag, summary, body: schema, response: ExecResultSchema,
      handler: async (c, ctx, body) => ok(c, wireResult(await run(c, ctx, body, clientHooks(c)), compatOutput)),
    }),
    route({
      method: 'post', path: `${path}/stream`, tag, body: schema, response: 'sse',
      summary: `${summary}, streaming output live (Server-Sent Events)`,
      description: 'Events: started, stdout and stderr ({"text": ...}) as the guest writes, then exit (the result) or error.',
      handler: (c, ctx, body) => streamRun(c, (hooks) => run(c, ctx, body, hooks)),
    }),
  ];
}

/** A run pair whose run needs only the body: the plain route also gets its `direct` form. */
function directRunPair<B>(path: string, tag: RouteSpec['tag'], summary: string, schema: z.ZodType<B>,
  run: (ctx: ApiContext, body: B, hooks: RunHooks) => Promise<ExecResult>, compatOutput = false): RouteSpec[] {
  const [plain, stream] = runPair(path, tag, summary, schema, (_c, ctx, b, h) => run(ctx, b, h), compatOutput);
  const direct = async (ctx: ApiContext, body: unknown, hooks: RunHooks) => wireResult(await run(ctx, body as B, hooks), compatOutput);
  return [{ ...plain!, direct }, stream!];
}

export const ROUTES: readonly RouteSpec[] = [
  route({
    method: 'get', path: '/health', tag: 'service', public: true, summary: 'Liveness check (no token needed)',
    description: 'Answers {"success": true, "data": "ok"}; the headers X-Agentkernel-Version and X-Agentkernel-Pid identify '
      + 'the server process (`agentkernel daemon` checks them before stopping a server).',
    response: z.literal('ok'),
    handler: (c) => {
      c.header('X-Agentkernel-Version', VERSION);
      c.header('X-Agentkernel-Pid', String(process.pid));
      return ok(c, 'ok');
    },
  }),
  route({
    method: 'get', path: '/backends', tag: 'service', summary: 'Backends and their availability on this machine',
    response: z.array(BackendStatusSchema),
    handler: async (c, ctx) => ok(c, await ctx.kernel.status()),
  }),
  ...directRunPair('/run', 'runs', 'Run a command in a throw-away sandbox', RunRequestSchema, ops.runCommand, true),
  ...directRunPair('/code', 'runs', 'Run JavaScript, Python or shell code in a fresh interpreter', CodeRequestSchema, ops.runCode),
  ...directRunPair('/wasm', 'runs', 'Run a WASI module or call one of its exports', WasmRequestSchema, ops.runWasm),
  ...directRunPair('/component', 'runs', 'Run a WASI 0.2 component or call one of its exports', ComponentRequestSchema, ops.runComponent),
  route({
    method: 'get', path: '/sandboxes', tag: 'sandboxes', summary: 'List sandboxes',
    response: z.array(SandboxInfoSchema),
    handler: async (c, ctx) => ok(c, (await ctx.kernel.list()).map(toWireSandbox)),
  }),
  route({
    method: 'post', path: '/sandboxes', tag: 'sandboxes', summary: 'Create a sandbox', status: 201,
    body: CreateSandboxRequestSchema, response: SandboxInfoSchema,
    handler: async (c, ctx, body) => ok(c, toWireSandbox(await ops.createSandbox(ctx, body)), 201),
  }),
  route({
    method: 'get', path: '/sandboxes/{name}', tag: 'sandboxes', summary: 'Get a sandbox', response: SandboxInfoSchema,
    handler: async (c, ctx) => ok(c, toWireSandbox(await ctx.kernel.get(name(c)))),
  }),
  route({
    method: 'delete', path: '/sandboxes/{name}', tag: 'sandboxes', summary: 'Remove a sandbox', response: null,
    handler: async (c, ctx) => {
      await ctx.kernel.remove(name(c));
      return ok(c);
    },
  }),
  ...(['start', 'stop'] as const).map((op) => route({
    method: 'post', path: `/sandboxes/{name}/${op}`, tag: 'sandboxes', summary: `${op === 'start' ? 'Start' : 'Stop'} a sandbox`,
    response: SandboxInfoSchema,
    handler: async (c, ctx) => {
      return ok(c, toWireSandbox(await ctx.kernel[op](name(c))));
    },
  })),
  ...runPair('/sandboxes/{name}/exec', 'sandboxes', 'Run a command in a sandbox', ExecRequestSchema,
    (c, ctx, b, h) => ops.execIn(ctx, name(c), b, h), true),
  ...fileRoutes,
  ...sessionRoutes({ route, ok, runPair }),
];
