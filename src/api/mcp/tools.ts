/**
 * The MCP tools, as a table. Input schemas are the HTTP API's request schemas (schemas.ts) and each tool calls
 * the same operation as its HTTP route (operations.ts), so the two interfaces accept the same arguments and honour
 * them the same way. Results carry structuredContent (exit_code, stdout, stderr, truncation flags...) and a text
 * summary for clients that only read text; failures are `isError` results with a clear message.
 */
import { z } from 'zod';
import type { CallToolResult, ServerNotification, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { ExecResult, RunHooks } from '../../core/types.js';
import { ValidationError, isAgentKernelError } from '../../core/errors.js';
import {
  CodeRequestSchema, CreateSandboxRequestSchema, ExecRequestSchema, ExecResultSchema, RunRequestSchema, SandboxInfoSchema,
  SandboxNameSchema, WasmRequestSchema, ComponentRequestSchema,
} from '../http/schemas.js';
import * as ops from '../http/operations.js';
import type { ApiContext } from '../http/operations.js';
import { toWireResult, toWireSandbox } from '../http/wire.js';
import { sessionTools } from './session-tools.js';

/** What a tool handler gets from the MCP request besides its arguments. */
export interface ToolCall {
  signal: AbortSignal;
  /** Present when the client asked for progress: guest output is then forwarded as progress messages. */
  progress?: (message: string) => void;
}

export interface ToolSpec<S extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: S;
  output?: z.ZodObject;
  annotations: ToolAnnotations;
  run: (ctx: ApiContext, args: z.infer<S>, call: ToolCall) => Promise<CallToolResult>;
}

const tool = <S extends z.ZodObject>(spec: ToolSpec<S>): ToolSpec => spec as unknown as ToolSpec;

const text = (t: string) => ({ type: 'text' as const, text: t });

/** Output is already capped by output_bytes; the summary shows it as is, marked when truncated. */
function runSummary(r: ExecResult): string {
  const lines = [`exit_code: ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}${r.trap ? ` (trap: ${r.trap.kind}: ${r.trap.message})` : ''}`];
  if (r.error) lines.push(`error: ${r.error.name}: ${r.error.message}`);
  if (r.results) lines.push(`results: ${r.results.join(', ')}`);
  if (r.value !== undefined) lines.push(`value: ${JSON.stringify(r.value)}`);
  if (r.stdout) lines.push(`--- stdout${r.stdoutTruncated ? ' (truncated)' : ''} ---`, r.stdout.replace(/\n$/, ''));
  if (r.stderr) lines.push(`--- stderr${r.stderrTruncated ? ' (truncated)' : ''} ---`, r.stderr.replace(/\n$/, ''));
  return lines.join('\n');
}

function runResult(r: ExecResult): CallToolResult {
  return { content: [text(runSummary(r))], structuredContent: toWireResult(r) as Record<string, unknown> };
}

function hooks(call: ToolCall): RunHooks {
  return {
    signal: call.signal,
    ...(call.progress ? { onStdout: call.progress, onStderr: call.progress } : {}),
  };
}

function structured(summary: string, data: Record<string, unknown>): CallToolResult {
  return { content: [text(summary)], structuredContent: data };
}

/** Failures as tool results the model can read and act on, never protocol errors. */
export function errorResult(e: unknown): CallToolResult {
  const msg = isAgentKernelError(e) ? `${e.code}: ${e.message}` : `INTERNAL: ${(e as Error)?.message ?? String(e)}`;
  return { isError: true, content: [text(msg)] };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

const NameOnly = z.object({ name: SandboxNameSchema }).strict();

const FileReadInput = z.object({
  name: SandboxNameSchema,
  path: z.string().min(1).describe('Path of the file (or directory, which is listed) inside the sandbox'),
  encoding: z.enum(['utf8', 'base64']).default('utf8')
    .describe('How to return the content; bytes that are not valid UTF-8 come back as base64 whatever is asked'),
}).strict();

const FileWriteInput = z.object({
  name: SandboxNameSchema,
  path: z.string().min(1).describe('Path of the file inside the sandbox (created or replaced)'),
  content: z.string().describe('The file\'s content'),
  encoding: z.enum(['utf8', 'base64']).default('utf8').describe('How `content` is encoded'),
}).strict();

const SandboxList = z.object({ sandboxes: z.array(SandboxInfoSchema) });

const runAnnotations: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, openWorldHint: false };

export const TOOLS: readonly ToolSpec[] = [
  tool({
    name: 'sandbox_run',
    title: 'Run a command in a throw-away sandbox',
    description: 'Run a command (argv) in a fresh sandbox that is discarded afterwards. Returns exit_code, stdout and stderr; '
      + 'a non-zero exit code is a normal result. Exit code 124 means the timeout fired.',
    input: RunRequestSchema,
    output: ExecResultSchema,
    annotations: runAnnotations,
    run: async (ctx, a, call) => runResult(await ops.runCommand(ctx, a, hooks(call))),
  }),
  tool({
    name: 'run_code',
    title: 'Run code',
    description: 'Run a JavaScript, Python or shell snippet in a fresh, isolated interpreter and return its output. '
      + 'Nothing persists between calls.',
    input: CodeRequestSchema,
    output: ExecResultSchema,
    annotations: runAnnotations,
    run: async (ctx, a, call) => runResult(await ops.runCode(ctx, a, hooks(call))),
  }),
  tool({
    name: 'run_wasm',
    title: 'Run a WebAssembly module',
    description: 'Run a WASI preview1 module (give `module` as base64 of .wasm/.wat bytes, or `wat` as text), or with '
      + '`invoke` call one of its exports with `args` and get its results.',
    input: WasmRequestSchema.omit({ module_path: true }),
    output: ExecResultSchema,
    annotations: runAnnotations,
    run: async (ctx, a, call) => runResult(await ops.runWasm(ctx, a, hooks(call))),
  }),
  tool({
    name: 'run_component',
    title: 'Run a WebAssembly component',
    description: 'Run a WASI 0.2 component (give `component` as base64 of its bytes, or `wat` as component text), or with '
      + '`invoke` call one of its exported functions with `args` as JSON values and get its return value in `value`.',
    input: ComponentRequestSchema.omit({ component_path: true }),
    output: ExecResultSchema,
    annotations: runAnnotations,
    run: async (ctx, a, call) => runResult(await ops.runComponent(ctx, a, hooks(call))),
  }),
  tool({
    name: 'sandbox_create',
    title: 'Create a sandbox',
    description: 'Create a persistent sandbox that keeps its files between sandbox_exec calls until sandbox_remove.',
    input: CreateSandboxRequestSchema,
    output: SandboxInfoSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    run: async (ctx, a) => {
      const info = toWireSandbox(await ops.createSandbox(ctx, a));
      return structured(`created sandbox '${info.name}' (backend ${info.backend}, status ${info.status})`, info);
    },
  }),
  tool({
    name: 'sandbox_exec',
    title: 'Run a command in a sandbox',
    description: 'Run a command (argv) in an existing sandbox. Returns exit_code, stdout and stderr.',
    input: z.object({ name: SandboxNameSchema, ...ExecRequestSchema.shape }).strict(),
    output: ExecResultSchema,
    annotations: runAnnotations,
    run: async (ctx, { name, ...a }, call) => runResult(await ops.execIn(ctx, name, a, hooks(call))),
  }),
  tool({
    name: 'sandbox_list',
    title: 'List sandboxes',
    description: 'List every sandbox with its backend and status.',
    input: z.object({}).strict(),
    output: SandboxList,
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async (ctx) => {
      const sandboxes = (await ctx.kernel.list()).map(toWireSandbox);
      const summary = sandboxes.length ? sandboxes.map((s) => `${s.name}\t${s.backend}\t${s.status}`).join('\n') : 'no sandboxes';
      return structured(summary, { sandboxes });
    },
  }),
  tool({
    name: 'sandbox_remove',
    title: 'Remove a sandbox',
    description: 'Remove a sandbox and everything in it.',
    input: NameOnly,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    run: async (ctx, { name }) => {
      await ctx.kernel.remove(name);
      return structured(`removed sandbox '${name}'`, { name, removed: true });
    },
  }),
  ...(['start', 'stop'] as const).map((op) => tool({
    name: `sandbox_${op}`,
    title: `${op === 'start' ? 'Start' : 'Stop'} a sandbox`,
    description: op === 'start' ? 'Start a stopped sandbox.' : 'Stop a running sandbox (its files are kept).',
    input: NameOnly,
    output: SandboxInfoSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    run: async (ctx, { name }) => {
      const info = toWireSandbox(await ctx.kernel[op](name));
      return structured(`sandbox '${info.name}' is ${info.status}`, info);
    },
  })),
  tool({
    name: 'sandbox_file_read',
    title: 'Read a file from a sandbox',
    description: 'Read a file of a sandbox (UTF-8 text, or base64 for binary content), or list a directory.',
    input: FileReadInput,
    annotations: { readOnlyHint: true, openWorldHint: false },
    run: async (ctx, { name, path, encoding }, call) => {
      const p = ops.guestPath(path);
      const got = await ops.readPath(ctx, name, p, call.signal);
      if (got.kind === 'dir') {
        const listing = got.entries.map((e) => `${e.type === 'dir' ? `${e.name}/` : e.name}\t${e.size}`).join('\n');
        return structured(listing || '(empty directory)', { path: p, entries: got.entries });
      }
      let content: string | undefined;
      let used = encoding;
      if (encoding === 'utf8') {
        try {
          content = new TextDecoder('utf-8', { fatal: true }).decode(got.data);
        } catch {
          used = 'base64';
        }
      }
      content ??= Buffer.from(got.data).toString('base64');
      return structured(content, { path: p, encoding: used, content, size: got.data.byteLength });
    },
  }),
  tool({
    name: 'sandbox_file_write',
    title: 'Write a file into a sandbox',
    description: 'Create or replace a file in a sandbox.',
    input: FileWriteInput,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    run: async (ctx, { name, path, content, encoding }) => {
      const p = ops.guestPath(path);
      if (encoding === 'base64' && !BASE64.test(content.replace(/\s+/g, ''))) throw new ValidationError('content is not valid base64');
      const data = encoding === 'base64' ? new Uint8Array(Buffer.from(content, 'base64')) : new TextEncoder().encode(content);
      await ctx.kernel.writeFile(name, p, data);
      return structured(`wrote ${data.byteLength} bytes to ${p}`, { path: p, size: data.byteLength });
    },
  }),
  ...sessionTools({ tool, runResult, hooks, structured }),
];

/** Progress notifications that carry guest output, when the client sent a progress token. */
export function progressSender(
  token: string | number | undefined,
  send: (n: ServerNotification) => Promise<void>,
): ((message: string) => void) | undefined {
  if (token === undefined) return undefined;
  let n = 0;
  return (message) => {
    n += 1;
    send({ method: 'notifications/progress', params: { progressToken: token, progress: n, message } }).catch(() => undefined);
  };
}
