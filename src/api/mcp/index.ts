/** The MCP server for embedders: the tool table, a server bound to a kernel, and the stdio loop. */
export { TOOLS, type ToolSpec } from './tools.js';
export { createMcpServer } from './server.js';
export { serveStdio } from './stdio.js';
export { mcpHttpHandler } from './http.js';
