/**
 * The interfaces the soak drives, each turning a SoakRequest into an Answer: the library (AgentKernel in this
 * process), the HTTP API, and MCP over streamable HTTP. A caller never throws: every way a call can end becomes an
 * Answer, so the checker sees all of them.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { isAgentKernelError } from '../core/errors.js';
import type { ExecResult } from '../core/types.js';
import type { AgentKernel } from '../service/kernel.js';
import type { Answer, SoakRequest } from './guests.js';

export type InterfaceName = 'library' | 'http' | 'mcp' | 'daemon';

export interface Caller {
  readonly name: InterfaceName;
  call(req: SoakRequest, signal?: AbortSignal): Promise<Answer>;
  close(): Promise<void>;
}

/** The wire form of a result (HTTP `data`, MCP structuredContent). */
interface WireResult {
  exit_code: number;
  stdout: string;
  stderr: string;
  timed_out?: boolean;
  trap?: { kind: string };
  results?: (number | string)[];
}

function fromResult(r: ExecResult): Answer {
  return {
    kind: 'result', exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr,
    ...(r.timedOut ? { timedOut: true } : {}), ...(r.trap ? { trap: r.trap.kind } : {}), ...(r.results ? { results: r.results } : {}),
  };
}

function fromWire(r: WireResult): Answer {
  return {
    kind: 'result', exitCode: r.exit_code, stdout: r.stdout, stderr: r.stderr,
    ...(r.timed_out ? { timedOut: true } : {}), ...(r.trap ? { trap: r.trap.kind } : {}), ...(r.results ? { results: r.results } : {}),
  };
}

/** An exception as an Answer: typed errors keep their code; the caller's own abort is ABORTED; the rest is transport. */
function fromThrown(e: unknown, signal?: AbortSignal): Answer {
  if (isAgentKernelError(e)) {
    // a worker that failed to start says why on its stderr: keep the end of it for the report
    const stderr = typeof e.details?.stderr === 'string' ? e.details.stderr.trim().split('\n').slice(-4).join(' | ') : '';
    return { kind: 'error', code: e.code, message: stderr ? `${e.message} [stderr: ${stderr}]` : e.message };
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (signal?.aborted) return { kind: 'error', code: 'ABORTED', message: err?.message ?? 'aborted' };
  const cause = err?.cause ? ` (${err.cause.code ?? ''} ${err.cause.message ?? ''})` : '';
  return { kind: 'error', code: 'CONNECTION', message: `${err?.message ?? String(e)}${cause}` };
}

export function libraryCaller(kernel: AgentKernel, module: Uint8Array): Caller {
  return {
    name: 'library',
    async call(req, signal) {
      const limits = { backend: req.backend, timeoutMs: req.timeoutMs, memoryMb: req.memoryMb, signal };
      try {
        const op = req.op;
        if (op.type === 'code') return fromResult(await kernel.runCode(op.language, op.code, limits));
        if (op.invoke) return fromResult(await kernel.invoke({ module, export: op.invoke, args: op.invokeArgs, ...limits }));
        return fromResult(await kernel.runWasm({ module, args: op.args, ...limits }));
      } catch (e) {
        return fromThrown(e, signal);
      }
    },
    async close() {},
  };
}

/** The JSON body of a request for the HTTP API and MCP alike (same schemas). */
function wireBody(req: SoakRequest, moduleB64: string): { path: '/wasm' | '/code'; tool: 'run_wasm' | 'run_code'; body: Record<string, unknown> } {
  const limits = { backend: req.backend, timeout_ms: req.timeoutMs, memory_mb: req.memoryMb };
  const op = req.op;
  if (op.type === 'code') return { path: '/code', tool: 'run_code', body: { language: op.language, code: op.code, ...limits } };
  const call = op.invoke ? { invoke: op.invoke, ...(op.invokeArgs ? { args: op.invokeArgs } : {}) } : { args: op.args ?? [] };
  return { path: '/wasm', tool: 'run_wasm', body: { module: moduleB64, ...call, ...limits } };
}

/** The HTTP API at `url()` (a function: a restarted daemon may come back elsewhere). */
export function httpCaller(name: 'http' | 'daemon', url: () => string, key: () => string, module: Uint8Array): Caller {
  const b64 = Buffer.from(module).toString('base64');
  return {
    name,
    async call(req, signal) {
      const { path, body } = wireBody(req, b64);
      try {
        const res = await fetch(`${url()}${path}`, {
          method: 'POST', signal,
          headers: { authorization: `Bearer ${key()}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
        const json = (await res.json()) as { success: boolean; data?: WireResult; error?: { code: string; message: string } };
        if (json.success && json.data) return fromWire(json.data);
        return { kind: 'error', code: json.error?.code ?? `HTTP_${res.status}`, message: json.error?.message ?? `status ${res.status}` };
      } catch (e) {
        return fromThrown(e, signal);
      }
    },
    async close() {},
  };
}

/** MCP over streamable HTTP: one client per caller, connected on first use and again after a failure. */
export function mcpCaller(url: () => string, key: () => string, module: Uint8Array): Caller {
  const b64 = Buffer.from(module).toString('base64');
  let client: Client | undefined;
  const connect = async (): Promise<Client> => {
    if (client) return client;
    const c = new Client({ name: 'agentkernel-soak', version: '1.0.0' });
    await c.connect(new StreamableHTTPClientTransport(new URL(`${url()}/mcp`), { requestInit: { headers: { authorization: `Bearer ${key()}` } } }));
    client = c;
    return c;
  };
  return {
    name: 'mcp',
    async call(req, signal) {
      const { tool, body } = wireBody(req, b64);
      try {
        const c = await connect();
        // the client's own request timeout must not end a run before the run's own limits do
        const r = (await c.callTool({ name: tool, arguments: body }, undefined, { signal, timeout: req.timeoutMs + 60_000 })) as {
          isError?: boolean; content: { type: string; text?: string }[]; structuredContent?: WireResult;
        };
        if (r.isError) {
          const msg = r.content.map((x) => x.text ?? '').join('\n');
          const m = /^([A-Z_]+): ([\s\S]*)$/.exec(msg);
          return { kind: 'error', code: m ? m[1]! : 'TOOL_ERROR', message: m ? m[2]! : msg };
        }
        if (!r.structuredContent) return { kind: 'error', code: 'PROTOCOL', message: 'a tool result without structuredContent' };
        return fromWire(r.structuredContent);
      } catch (e) {
        const a = fromThrown(e, signal);
        if (a.kind === 'error' && a.code === 'CONNECTION') {
          const old = client;
          client = undefined;
          await old?.close().catch(() => undefined);
        }
        return a;
      }
    },
    async close() {
      await client?.close().catch(() => undefined);
      client = undefined;
    },
  };
}
