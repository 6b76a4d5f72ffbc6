/**
 * MCP tools for code sessions: the HTTP API's session schemas and operations (api/http/sessions.ts) as tools, so
 * a model can keep variables between calls, snapshot them, go back and branch. Built with the tool table's own
 * helpers (passed in, so this module does not import the table that includes it).
 */
import { z } from 'zod';
import type { CallToolResult, ToolAnnotations } from '@modelcontextprotocol/sdk/types.js';
import type { ExecResult, RunHooks } from '../../core/types.js';
import { ExecResultSchema, SandboxNameSchema } from '../http/schemas.js';
import {
  ForkRequestSchema, SessionCreateRequestSchema, SessionInfoSchema, SessionRunRequestSchema, SnapshotInfoSchema, SnapshotRequestSchema,
  createSession, forkSession, restoreSession, runInSession, snapshotSession, toWireSession,
} from '../http/sessions.js';
import type { ToolCall, ToolSpec } from './tools.js';

interface ToolHelpers {
  tool<S extends z.ZodObject>(spec: ToolSpec<S>): ToolSpec;
  runResult(r: ExecResult): CallToolResult;
  hooks(call: ToolCall): RunHooks;
  structured(summary: string, data: Record<string, unknown>): CallToolResult;
}

const Named = <S extends z.ZodRawShape>(shape: S) => z.object({ name: SandboxNameSchema.describe('The session'), ...shape }).strict();
const change: ToolAnnotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

export function sessionTools({ tool, runResult, hooks, structured }: ToolHelpers): ToolSpec[] {
  return [
    tool({
      name: 'session_create',
      title: 'Start a code session',
      description: 'Start a JavaScript or Python session: an isolated interpreter whose variables, functions and imports '
        + 'stay from one session_run call to the next, until session_close.',
      input: SessionCreateRequestSchema,
      output: SessionInfoSchema,
      annotations: change,
      run: async (ctx, a) => {
        const s = await createSession(ctx, a);
        return structured(`started ${s.language} session '${s.name}' (backend ${s.backend})`, s);
      },
    }),
    tool({
      name: 'session_run',
      title: 'Run code in a session',
      description: 'Run code in a session; what it defines is there for the next call. Returns exit_code, stdout and stderr. '
        + 'A call that ends the interpreter (exit code 124 with a note in stderr) loses the state since the last snapshot; '
        + 'later calls say so until session_restore.',
      input: Named(SessionRunRequestSchema.shape),
      output: ExecResultSchema,
      annotations: change,
      run: async (ctx, { name, ...a }, call) => runResult(await runInSession(ctx, name, a, hooks(call))),
    }),
    tool({
      name: 'session_snapshot',
      title: 'Snapshot a session',
      description: 'Keep a copy of the session\'s interpreter state under a name (default snap-N), to restore or fork later.',
      input: Named(SnapshotRequestSchema.shape),
      output: SnapshotInfoSchema,
      annotations: change,
      run: async (ctx, { name, ...a }) => {
        const s = await snapshotSession(ctx, name, a);
        return structured(`snapshot '${s.name}' of session '${name}' (${s.bytes} bytes)`, s);
      },
    }),
    tool({
      name: 'session_restore',
      title: 'Restore a session snapshot',
      description: 'Put a snapshot back into the session (the latest when none is named): its state becomes exactly what it was.',
      input: Named(SnapshotRequestSchema.shape),
      output: SnapshotInfoSchema,
      annotations: { ...change, destructiveHint: true },
      run: async (ctx, { name, ...a }) => {
        const s = await restoreSession(ctx, name, a);
        return structured(`session '${name}' is back at snapshot '${s.name}'`, s);
      },
    }),
    tool({
      name: 'session_fork',
      title: 'Fork a session',
      description: 'Start a new session from a snapshot of this one (or from its state now); the two diverge independently.',
      input: z.object({ session: SandboxNameSchema.describe('The session to fork'), ...ForkRequestSchema.shape }).strict(),
      output: SessionInfoSchema,
      annotations: change,
      run: async (ctx, { session, ...a }) => {
        const s = await forkSession(ctx, session, a);
        return structured(`forked '${session}' into '${s.name}'`, s);
      },
    }),
    tool({
      name: 'session_list',
      title: 'List code sessions',
      description: 'List the code sessions with their language, snapshots and call count.',
      input: z.object({}).strict(),
      output: z.object({ sessions: z.array(SessionInfoSchema) }),
      annotations: { readOnlyHint: true, openWorldHint: false },
      run: async (ctx) => {
        const sessions = ctx.kernel.listSessions().map(toWireSession);
        const summary = sessions.length ? sessions.map((s) => `${s.name}\t${s.language}\t${s.calls} calls\t${s.snapshots.length} snapshots`).join('\n') : 'no sessions';
        return structured(summary, { sessions });
      },
    }),
    tool({
      name: 'session_close',
      title: 'Close a code session',
      description: 'End a session; its interpreter and snapshots are gone.',
      input: Named({}),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
      run: async (ctx, { name }) => {
        await ctx.kernel.closeSession(name);
        return structured(`closed session '${name}'`, { name });
      },
    }),
  ];
}
