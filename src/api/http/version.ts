/** The package version, reported by /health, the OpenAPI document and the MCP server's handshake. */
import { createRequire } from 'node:module';

export const VERSION = (createRequire(import.meta.url)('../../../../package.json') as { version: string }).version;
