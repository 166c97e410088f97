#!/usr/bin/env node
// `npx fastmcp-bridge-setup-python [--python python3.11]`: creates the venv
// `.venv` inside the installed fastmcp-bridge package with the workspace hub
// and its pinned dependencies; the Bridge uses it when no `python` option
// and no FASTMCP_BRIDGE_PYTHON are set.
import path from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

import { ensureHubVenv } from './lib/python.js';

const { values } = parseArgs({ options: { python: { type: 'string', default: 'python3' } } });
const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const venvPython = ensureHubVenv({ packageDir, venvDir: path.join(packageDir, '.venv'), python: values.python });
console.log(venvPython);
