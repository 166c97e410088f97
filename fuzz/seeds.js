#!/usr/bin/env node
// Writes the seed corpora under fuzz/corpus/<target>/seed-*: messages and
// streams shaped like those a FastMCP server sends (see src/lib.rs for the
// layout of the sse and stdio inputs). Run: node fuzz/seeds.js
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

const messages = [
  { jsonrpc: '2.0', id: 0, result: { protocolVersion: '2025-06-18', capabilities: { experimental: {}, prompts: { listChanged: true }, resources: { subscribe: false, listChanged: true }, tools: { listChanged: true } }, serverInfo: { name: 'alpha', version: '2.12.4' } } },
  { jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'echo', description: 'Echo the text back.', inputSchema: { type: 'object', properties: { text: { type: 'string', title: 'Text' } }, required: ['text'] }, outputSchema: { type: 'object', properties: { result: { type: 'string' } }, required: ['result'], 'x-fastmcp-wrap-result': true } }] } },
  { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'hi' }], structuredContent: { result: 'hi' }, isError: false } },
  { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 5, progress: 0.5, total: 1.0, message: 'half' } },
  { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', logger: 'alpha', data: 'caf\u00e9 \u2615 \ud83d\ude00' } },
  { jsonrpc: '2.0', id: 0, method: 'sampling/createMessage', params: { messages: [{ role: 'user', content: { type: 'text', text: 'Summarize' } }], maxTokens: 100 } },
  { jsonrpc: '2.0', id: 'srv-1', method: 'ping' },
  { jsonrpc: '2.0', id: 3, error: { code: -32602, message: 'Unknown tool: nope', data: null } },
  { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
];
const raw = [
  // Number forms JSON.stringify would not write.
  '{"jsonrpc":"2.0","id":18446744073709551615,"error":{"code":-32000,"message":"x"}}',
  '{"jsonrpc":"2.0","id":4,"result":{"pi":3.141592653589793,"tiny":5e-324,"big":1.7976931348623157e308,"e":1E+2,"neg":-0.0}}',
  '{ "jsonrpc" : "2.0" ,\n "id" : null , "result" : "\\u00e9\\ud83d\\ude00\\n" }',
  // serde_json's reserved key, not first in its object (encoding sorts it first).
  '{"jsonrpc":"2.0","id":1,"result":{"schema":{"type":"object","$serde_json::private::RawValue":true}}}',
  // Client requests as the Express endpoint's fast path reads them (relayable).
  '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"},"_meta":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}}',
  '{"jsonrpc":"2.0","id":"c-1","method":"tools/call","params":{"name":"slow","arguments":{},"_meta":{"progressToken":"p"}}}',
  '{"method":"resources/read","params":{"uri":"file:///a"},"id":9007199254740991,"jsonrpc":"2.0"}',
];
const json = [...messages.map((m) => JSON.stringify(m)), ...raw];

function encode(max, cuts, body) {
  const header = Buffer.alloc(3);
  header.writeUInt16LE(max, 0);
  header[2] = cuts.length;
  return Buffer.concat([header, Buffer.from(cuts), Buffer.from(body)]);
}

const corpus = { jsonrpc: json.map((j) => Buffer.from(j)), sse: [], stdio: [] };

// SSE as FastMCP (sse-starlette) writes it: CRLF line ends, `event: message`,
// a priming event with an id and empty data, comment keep-alives.
const event = (j) => `event: message\r\ndata: ${j}\r\n\r\n`;
const priming = 'id: 0b9c1d2e/0\r\ndata: \r\nretry: 3000\r\n\r\n';
const ping = ': ping - 2026-01-01 00:00:00.000000+00:00\r\n\r\n';
const streams = [
  priming + event(json[3]) + ping + event(json[2]),
  event(json[5]) + event(json[1]),
  'data: {"jsonrpc":"2.0",\ndata: "id":7,"result":{}}\n\n',
  ping + event(json[7]),
  event(json[4]) + event(json[10]),
];
streams.forEach((s, i) => {
  const b = Buffer.from(s);
  corpus.sse.push(encode(1000, [], b));
  // Cuts inside the first CRLF and in the middle of the first data line.
  const cr = b.indexOf('\r');
  corpus.sse.push(encode(1000, [cr + 1, 20], b));
  corpus.sse.push(encode(Math.max(1, b.length - 10 - i), [1, 1, 2, 3, 5, 8], b));
});

const lines = [
  ['Starting alpha server', json[0], json[3], json[2]].join('\n') + '\n',
  [json[5], json[6], json[7]].join('\r\n') + '\r\n',
  'x'.repeat(120) + '\n' + json[6] + '\n' + json[8],
  json[4] + '\n\n' + json[10] + '\n',
];
lines.forEach((s) => {
  const b = Buffer.from(s);
  corpus.stdio.push(encode(1000, [], b));
  corpus.stdio.push(encode(100, [7, 50, 1], b));
  corpus.stdio.push(encode(64, [200], b));
});

for (const [target, inputs] of Object.entries(corpus)) {
  const dir = path.join(here, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  inputs.forEach((input, i) => fs.writeFileSync(path.join(dir, `seed-${String(i).padStart(2, '0')}`), input));
}
