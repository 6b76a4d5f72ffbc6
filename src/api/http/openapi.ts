/**
 * The OpenAPI 3.1 document, generated from the route table and the zod schemas that validate requests (OpenAPI
 * 3.1 uses JSON Schema 2020-12, which is what z.toJSONSchema emits).
 */
import { z } from 'zod';
import { DirListingSchema, ErrorSchema } from './schemas.js';
import type { RouteSpec } from './routes.js';

type Json = Record<string, unknown>;

function schema(s: z.ZodType, io: 'input' | 'output'): Json {
  const j = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  delete j.$schema;
  return j;
}

const envelope = (data: Json | undefined): Json => ({
  type: 'object',
  required: ['success'],
  properties: { success: { const: true }, ...(data ? { data } : {}) },
});

const ERRORS: Record<string, string> = {
  400: 'Invalid request (bad JSON, a field out of range, an invalid name or path)',
  401: 'Missing or invalid bearer token',
  403: 'Cross-origin request refused',
  404: 'No such sandbox, file or route',
  409: 'Conflict with the sandbox\'s state (name taken, sandbox stopped)',
  413: 'Request body above the server\'s limit',
  415: 'Wrong Content-Type',
  501: 'The backend does not support this operation',
  503: 'No backend available for this operation',
  504: 'The operation timed out',
};

function operation(r: RouteSpec): Json {
  const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
    name: m[1], in: 'path', required: true, schema: { type: 'string' },
    description: m[1] === 'path'
      ? 'Path in the sandbox, relative to its working directory; absolute when it starts with %2F. Slashes allowed, .. segments not'
      : 'Sandbox name',
  }));
  const op: Json = {
    operationId: `${r.method}${r.path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, ch: string | undefined) => (ch ?? '').toUpperCase())}`,
    summary: r.summary,
    ...(r.description ? { description: r.description } : {}),
    tags: [r.tag],
    ...(params.length ? { parameters: params } : {}),
    ...(r.public ? { security: [] } : {}),
  };
  if (r.body === 'bytes') {
    op.requestBody = { required: true, content: { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } } };
  } else if (r.body) {
    op.requestBody = { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } };
  }
  const success: Json = { description: 'Success' };
  if (r.response === 'sse') {
    success.content = { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events: started, stdout, stderr, exit, error' } } };
  } else if (r.response === 'file') {
    success.content = {
      'application/octet-stream': { schema: { type: 'string', format: 'binary' } },
      'application/json': { schema: { $ref: '#/components/schemas/DirListingResponse' } },
    };
  } else {
    success.content = { 'application/json': { schema: envelope(r.response ? schema(r.response, 'output') : undefined) } };
  }
  const errorRef = { content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorResponse' } } } };
  op.responses = {
    [String(r.status ?? 200)]: success,
    ...Object.fromEntries(Object.entries(ERRORS).map(([code, description]) => [code, { description, ...errorRef }])),
  };
  return op;
}

export function openApiDocument(routes: readonly RouteSpec[], info: { version: string; serverUrl?: string }): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) (paths[r.path] ??= {})[r.method] = operation(r);
  return {
    openapi: '3.1.0',
    info: {
      title: 'agentkernel',
      version: info.version,
      description: 'Run untrusted code from AI agents in sandboxes. Every response is {success, data?, error?}; a command '
        + 'that exits non-zero is a result (200), not an error. The MCP endpoint is at /mcp (streamable HTTP).',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'AGENTKERNEL_API_KEY, or the api-key file written by `agentkernel serve`' } },
      schemas: {
        ErrorResponse: {
          type: 'object',
          required: ['success', 'error'],
          properties: { success: { const: false }, error: schema(ErrorSchema, 'output') },
        },
        DirListingResponse: envelope(schema(DirListingSchema, 'output')),
      },
    },
  };
}
