// The hand-written public typings compile against a usage example under
// `tsc --strict`, so they cannot drift silently from the API.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { it } from 'node:test';

import { repoDir } from './helpers.js';

it('the public typings type-check a usage example under tsc --strict', () => {
  const tsc = path.join(repoDir, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', path.join(repoDir, 'tests', 'types', 'tsconfig.json')], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}`);
});
