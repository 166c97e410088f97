// The `Mcp-Param-*` rules of express-bridge/param-headers.js as pure
// functions (MCP 2026-07-28, Basic / Transports / Streamable HTTP): which
// schema marks count, when a mark makes the schema invalid (as the MCP
// Python SDK's find_invalid_x_mcp_header), and the base64 header form.
// sessionless.test.js covers them end to end through the endpoint.
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { decodeHeaderValue, markedArguments } from '../../express-bridge/param-headers.js';

const mark = (type, token) => ({ type, 'x-mcp-header': token });

it('finds the marks reached through properties alone, nested ones too', () => {
  const schema = { type: 'object', properties: { region: mark('string', 'Region'), target: { type: 'object', properties: { zone: mark('integer', 'Zone') } } } };
  assert.deepEqual(markedArguments(schema), [
    { path: ['region'], header: 'mcp-param-region', type: 'string' },
    { path: ['target', 'zone'], header: 'mcp-param-zone', type: 'integer' },
  ]);
  // Instance data is not a schema: a default holding the keyword is no mark.
  assert.equal(markedArguments({ properties: { a: { ...mark('string', 'A'), default: { 'x-mcp-header': 'B' } } } }).length, 1);
});

it('calls a schema invalid (no header checked) for a mark off the properties chain, at the root, on another type, not a token, or twice', () => {
  for (const schema of [
    { properties: { a: mark('string', 'A') }, anyOf: [{ properties: { b: mark('string', 'B') } }] },
    { properties: { list: { type: 'array', items: mark('string', 'Item') } } },
    { $defs: { x: mark('string', 'X') } },
    mark('string', 'Root'),
    { properties: { n: mark('number', 'N') } },
    { properties: { a: mark('string', 'A B') } },
    { properties: { a: mark('string', 'X'), b: mark('string', 'x') } },
  ]) {
    assert.equal(markedArguments(schema), null, JSON.stringify(schema));
  }
});

it('decodes the =?base64?...?= form, and refuses a malformed one', () => {
  assert.equal(decodeHeaderValue('plain'), 'plain');
  assert.equal(decodeHeaderValue(`=?base64?${Buffer.from('zürich').toString('base64')}?=`), 'zürich');
  assert.equal(decodeHeaderValue('=?base64?not base64?='), null);
  assert.equal(decodeHeaderValue(`=?base64?${Buffer.from([0xff, 0xfe]).toString('base64')}?=`), null);
  assert.equal(decodeHeaderValue(undefined), undefined);
});
