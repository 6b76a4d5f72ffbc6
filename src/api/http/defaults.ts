/** Defaults of the HTTP server, in a module of their own so the CLI can show them without loading the server. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
