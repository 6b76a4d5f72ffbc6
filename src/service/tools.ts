/**
 * Host tools a session's code may call (`tools.NAME(...)` in the guest). Each tool has a schema (JSON Schema or a
 * zod schema); the guest's arguments are checked against it before the tool's function runs, and the result goes
 * back as JSON, size-capped. Nothing but registered tools is reachable: the guest only ever names a tool.
 */
import type { z as Z } from 'zod';
import { createRequire } from 'node:module';

// zod loads on first use: every CLI call constructs the kernel, few register tools
const zod = (): typeof Z => (createRequire(import.meta.url)('zod') as { z: typeof Z }).z;
import { ValidationError } from '../core/errors.js';
import type { ToolHost } from '../core/types.js';

/**
 * A tool's implementation: gets the validated arguments, returns anything JSON can carry (or a promise of it).
 * `any`, so that a function typed by its own schema's argument type is accepted as it is.
 */
export type ToolFn = (args: any) => unknown;

/** A JSON Schema object, or a zod schema. */
export type ToolSchema = Record<string, unknown> | Z.ZodType;

interface Tool {
  schema: Z.ZodType;
  jsonSchema: Record<string, unknown>;
  fn: ToolFn;
  description?: string;
}

export interface ToolInfo {
  name: string;
  description?: string;
  /** The arguments' schema as JSON Schema. */
  schema: Record<string, unknown>;
}

const TOOL_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** Largest result (JSON text) a tool may hand back to the guest. */
export const MAX_TOOL_RESULT = 1024 * 1024;

function isZod(s: unknown): s is Z.ZodType {
  return typeof s === 'object' && s !== null && typeof (s as { safeParse?: unknown }).safeParse === 'function';
}

function toZod(schema: ToolSchema): { schema: Z.ZodType; jsonSchema: Record<string, unknown> } {
  if (isZod(schema)) return { schema, jsonSchema: zod().toJSONSchema(schema) as Record<string, unknown> };
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) throw new ValidationError('a tool schema must be a JSON Schema object or a zod schema');
  try {
    return { schema: zod().fromJSONSchema(schema as Parameters<typeof Z.fromJSONSchema>[0]), jsonSchema: schema };
  } catch (e) {
    throw new ValidationError(`the tool schema is not usable: ${e instanceof Error ? e.message : String(e)}`);
  }
}

export class ToolRegistry {
  private readonly tools = new Map<string, Tool>();

  register(name: string, schema: ToolSchema, fn: ToolFn, description?: string): void {
    if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
      throw new ValidationError(`invalid tool name ${JSON.stringify(name)}: use letters, digits and '_', not starting with a digit`);
    }
    if (typeof fn !== 'function') throw new ValidationError(`tool '${name}' needs a function`);
    this.tools.set(name, { ...toZod(schema), fn, ...(description ? { description } : {}) });
  }

  unregister(name: string): boolean {
    return this.tools.delete(name);
  }

  names(): string[] {
    return [...this.tools.keys()];
  }

  list(): ToolInfo[] {
    return [...this.tools].map(([name, t]) => ({ name, schema: t.jsonSchema, ...(t.description ? { description: t.description } : {}) }));
  }

  /** A copy (a fork starts with its parent's tools). */
  clone(): ToolRegistry {
    const r = new ToolRegistry();
    for (const [k, v] of this.tools) r.tools.set(k, v);
    return r;
  }

  /** Calls a tool with arguments as JSON text; resolves with the result as JSON text. Errors carry the guest's message. */
  async call(name: string, argsJson: string): Promise<string> {
    const tool = this.tools.get(name);
    if (!tool) throw new Error(`no tool named '${name}' is registered`);
    let args: unknown;
    try {
      args = JSON.parse(argsJson);
    } catch {
      throw new Error(`the arguments of tool '${name}' are not JSON`);
    }
    const parsed = tool.schema.safeParse(args);
    if (!parsed.success) throw new Error(`invalid arguments for tool '${name}': ${zod().prettifyError(parsed.error).replace(/\n\s*/g, '; ')}`);
    let result: unknown;
    try {
      result = await tool.fn(parsed.data);
    } catch (e) {
      throw new Error(`tool '${name}' failed: ${e instanceof Error ? e.message : String(e)}`);
    }
    let json: string | undefined;
    try {
      json = JSON.stringify(result);
    } catch (e) {
      throw new Error(`the result of tool '${name}' is not JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    json ??= 'null';
    if (json.length > MAX_TOOL_RESULT) throw new Error(`the result of tool '${name}' is larger than ${MAX_TOOL_RESULT} bytes`);
    return json;
  }

  /** What a session call hands to the backend. */
  host(): ToolHost {
    return { names: this.names(), call: (name, argsJson) => this.call(name, argsJson) };
  }
}
