/**
 * The wire format of agentkernel's programmatic interfaces, declared once as zod schemas: the HTTP API validates
 * request bodies with them, the MCP server uses them as tool input schemas, and the OpenAPI document is generated
 * from them. Field names are snake_case on the wire (as in the original agentkernel's API); the SDK maps them to
 * camelCase options.
 *
 * Host paths never travel in these schemas except `module_path` of a Wasm run: the API gives callers sandboxes to
 * write files into, not views of the server's disk.
 */
import { z } from 'zod';
import { BACKEND_NAMES } from '../../core/config.js';
import { PROFILES, type ProfileName } from '../../core/profiles.js';
import { validateSandboxName } from '../../service/store.js';

const PROFILE_NAMES = Object.keys(PROFILES) as [ProfileName, ...ProfileName[]];
export const LANGUAGES = ['javascript', 'python', 'shell'] as const;

export const SandboxNameSchema = z
  .string()
  .superRefine((v, ctx) => {
    try {
      validateSandboxName(v);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: (e as Error).message });
    }
  })
  .describe('Sandbox name: 1-63 letters, digits, "_", "-", ".", starting with a letter or digit');

export const EnvSchema = z
  .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'environment variable names are letters, digits and _'), z.string())
  .describe('Environment variables for the guest: exactly these, nothing from the server');

export const CommandSchema = z
  .array(z.string())
  .min(1, 'command needs at least the program name')
  .describe('Program and arguments (argv), e.g. ["python3", "-c", "print(1)"]');

/** Per-run limits. The server's own limits are both the defaults and the maxima. */
export const limitFields = {
  timeout_ms: z.number().int().positive().optional()
    .describe('Wall-clock limit in milliseconds; the run stops with exit code 124. Default and maximum: the server\'s limit'),
  memory_mb: z.number().int().positive().optional()
    .describe('Memory cap in MiB (exit code 137 when hit). Default and maximum: the server\'s limit'),
  output_bytes: z.number().int().positive().optional()
    .describe('Bytes kept of stdout and of stderr each; the rest is dropped and *_truncated is set. Default and maximum: the server\'s limit'),
};

/** What every call that runs guest code accepts. */
export const execFields = {
  env: EnvSchema.optional(),
  cwd: z.string().min(1).optional().describe('Working directory inside the guest'),
  stdin: z.string().optional().describe('Standard input for the guest (UTF-8 text), given whole up front'),
  ...limitFields,
};

export const choiceFields = {
  backend: z.enum(BACKEND_NAMES).optional().describe('Backend to use; default: automatic selection by the server'),
  profile: z.enum(PROFILE_NAMES).optional().describe('Security profile; default: the server\'s profile'),
};

export const RunRequestSchema = z
  .object({
    command: CommandSchema,
    image: z.string().min(1).optional().describe('Container image (container backends)'),
    ...execFields,
    ...choiceFields,
  })
  .strict()
  .describe('Run a command in a fresh, throw-away sandbox');

export const CodeRequestSchema = z
  .object({
    language: z.enum(LANGUAGES).describe('Language of the code'),
    code: z.string().describe('Source code to run from a clean interpreter'),
    ...execFields,
    ...choiceFields,
  })
  .strict()
  .describe('Run a snippet of JavaScript, Python or shell in a fresh interpreter');

export const WasmRequestSchema = z
  .object({
    module: z.base64().optional().describe('The module\'s bytes (.wasm binary or .wat text), base64-encoded'),
    wat: z.string().optional().describe('The module as WebAssembly text (.wat), instead of `module`'),
    module_path: z.string().regex(/^\/.*\.(wasm|wat)$/, 'an absolute path to a .wasm or .wat file').optional()
      .describe('Absolute path of a .wasm/.wat file on the server\'s machine, instead of `module`'),
    invoke: z.string().min(1).optional().describe('Call this exported function instead of running _start'),
    args: z.array(z.union([z.string(), z.number()])).optional()
      .describe('Program arguments (argv[1..]) for _start, or the export\'s arguments with `invoke` (i64 as decimal strings)'),
    ...execFields,
    ...choiceFields,
  })
  .strict()
  .describe('Run a WASI preview1 module, or call one of its exports; give exactly one of module, wat, module_path');

export const ComponentRequestSchema = z
  .object({
    component: z.base64().optional().describe('The component\'s bytes (.wasm binary or component text), base64-encoded'),
    wat: z.string().optional().describe('The component in the component text format, instead of `component`'),
    component_path: z.string().regex(/^\/.*\.(wasm|wat)$/, 'an absolute path to a .wasm or .wat file').optional()
      .describe('Absolute path of a component file on the server\'s machine, instead of `component`'),
    invoke: z.string().min(1).optional().describe('Call this exported function (`name` or `interface#name`) instead of wasi:cli/run'),
    args: z.array(z.unknown()).optional()
      .describe('Program arguments (strings, argv[1..]) of a command, or with `invoke` the export\'s arguments as JSON values '
        + '(records as objects, variants as {"tag", "val"}, results as {"ok"} / {"err"}, options as null or the value)'),
    ...execFields,
    ...choiceFields,
  })
  .strict()
  .describe('Run a WASI 0.2 component (wasi:cli/run), or call one of its exports; give exactly one of component, wat, component_path');

export const CreateSandboxRequestSchema = z
  .object({
    name: SandboxNameSchema,
    image: z.string().min(1).optional().describe('Container image (container backends)'),
    memory_mb: z.number().int().positive().optional().describe('Memory cap in MiB for everything run in the sandbox'),
    cpus: z.number().int().positive().optional().describe('CPUs for the sandbox (container and microVM backends)'),
    env: EnvSchema.optional(),
    network: z.boolean().optional().describe('Network access from the sandbox (container and microVM backends)'),
    ...choiceFields,
  })
  .strict()
  .describe('Create a persistent sandbox');

export const ExecRequestSchema = z
  .object({ command: CommandSchema, ...execFields })
  .strict()
  .describe('Run a command in a persistent sandbox');

export type RunRequest = z.infer<typeof RunRequestSchema>;
export type CodeRequest = z.infer<typeof CodeRequestSchema>;
export type WasmRequest = z.infer<typeof WasmRequestSchema>;
export type ComponentRequest = z.infer<typeof ComponentRequestSchema>;
export type CreateSandboxRequest = z.infer<typeof CreateSandboxRequestSchema>;
export type ExecRequest = z.infer<typeof ExecRequestSchema>;
export type ExecFields = { env?: Record<string, string>; cwd?: string; stdin?: string; timeout_ms?: number; memory_mb?: number; output_bytes?: number };

// ---- responses (documented in the OpenAPI document; the SDK's types come from these too) ------------------------

export const ExecResultSchema = z
  .object({
    exit_code: z.number().int().describe('The guest\'s exit code; 124 timeout, 134 Wasm trap, 137 memory limit'),
    stdout: z.string(),
    stderr: z.string(),
    stdout_truncated: z.boolean(),
    stderr_truncated: z.boolean(),
    duration_ms: z.number(),
    timed_out: z.boolean().optional(),
    trap: z.object({ kind: z.string(), message: z.string() }).optional(),
    error: z.object({ name: z.string(), message: z.string(), traceback: z.string().optional() }).optional()
      .describe('runCode: the uncaught exception'),
    results: z.array(z.union([z.number(), z.string()])).optional().describe('invoke: the export\'s results'),
    value: z.unknown().optional().describe('invoke of a component export: its return value as JSON'),
    backend: z.string(),
    isolation: z
      .object({
        layers: z.array(z.string()),
        missing: z.array(z.object({ layer: z.string(), reason: z.string() })).optional(),
      })
      .optional(),
  })
  .describe('The result of anything that runs guest code; a non-zero exit code is a result, not an error');

export const SandboxInfoSchema = z.object({
  name: z.string(),
  backend: z.string(),
  status: z.enum(['created', 'running', 'stopped']),
  image: z.string().optional(),
  profile: z.string(),
  created_at: z.string(),
  applied: z.record(z.string(), z.unknown()).optional(),
});

export const FileEntrySchema = z.object({
  name: z.string(),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number(),
});

export const DirListingSchema = z.object({ path: z.string(), entries: z.array(FileEntrySchema) });

export const FileWrittenSchema = z.object({ path: z.string(), size: z.number().int() });

export const BackendStatusSchema = z.object({
  name: z.string(),
  summary: z.string(),
  implemented: z.boolean(),
  available: z.boolean(),
  reason: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
  autoSelect: z.boolean().optional().describe('false: usable only when named explicitly (e.g. a microVM under software emulation)'),
});

export const ErrorSchema = z.object({
  name: z.string(),
  code: z.string().describe('Stable code: VALIDATION, NOT_FOUND, CONFLICT, UNSUPPORTED, UNAVAILABLE, TIMEOUT, LIMIT, ABORTED, UNAUTHORIZED, FORBIDDEN, INTERNAL...'),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export type WireResult = z.infer<typeof ExecResultSchema>;
export type WireSandboxInfo = z.infer<typeof SandboxInfoSchema>;
export type WireError = z.infer<typeof ErrorSchema>;
