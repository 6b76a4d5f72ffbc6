#!/usr/bin/env node
// Writes docs/cli.md from the CLI's own --help text, so the documentation cannot drift from the code
// (test/cli/docs.test.ts fails when docs/cli.md is stale). Run `npm run docs` after changing a command.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderCliDocs } from '../dist/src/cli/docs.js';

const root = join(fileURLToPath(import.meta.url), '..', '..');
writeFileSync(join(root, 'docs', 'cli.md'), renderCliDocs());
console.log('wrote docs/cli.md');
