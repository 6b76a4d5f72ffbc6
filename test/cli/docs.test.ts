import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCliDocs } from '../../src/cli/docs.js';
import { REPO } from '../helpers/cli.js';

test('docs/cli.md matches the CLI help (run `npm run docs` to regenerate)', () => {
  assert.equal(readFileSync(join(REPO, 'docs', 'cli.md'), 'utf8'), renderCliDocs());
});
