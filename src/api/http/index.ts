/** The HTTP API for embedders: start a server on an AgentKernel, or mount the app in another hono server. */
export { startServer, type ServerOptions, type RunningServer } from './server.js';
export { createApp, DEFAULT_MAX_BODY_BYTES, type AppOptions } from './app.js';
export { ownOrigins } from './security.js';
export { loadOrCreateApiKey, readLocalApiKey, apiKeyPath, type ApiKey } from './api-key.js';
export { ROUTES, type RouteSpec } from './routes.js';
export * from './schemas.js';
