#!/usr/bin/env node
// Entry point of the `agentkernel` command. The TypeScript sources are compiled to dist/ by `npm ci` (prepare).
import { main } from '../dist/src/cli/main.js';

main().catch((e) => {
  process.stderr.write(`agentkernel: internal error: ${e?.stack ?? e}\n`);
  process.exit(1);
});
