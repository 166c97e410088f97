// The lower bound for an Express-free front door (phase `peers`, proxy
// `node-http`): node bench/http_app.js '{"port":P,"command":...,"args":[...],"dir":...,"maxConcurrent":N,"express":false}'
//
// The same Bridge as bench/express_app.js (one stdio workspace `echo`)
// behind a bare `node:http` server doing the least an MCP streamable HTTP
// endpoint must for the bench's client: POST /workspaces/echo/mcp reads
// the body, `JSON.parse`s it, answers `initialize` with a session id,
// `notifications/*` with 202, and relays every other request with
// `bridge.call(..., { raw: true })`, splicing the result's text into the
// response as the Express endpoint does. No Host, Origin or session
// checks, no metrics, no SSE: not a usable endpoint, a floor to measure
// the Express router against. DELETE answers 200.
//
// With `"express": true` (proxy `express-bare`) the same handler is the one
// route of an Express app (`app.all(path, handler)`): what Express's own
// dispatch costs, the floor of any endpoint mounted in an Express app.
// Exits on SIGTERM or when stdin closes.
import { randomUUID } from 'node:crypto';
import http from 'node:http';

import { bridge, projectExpress, spec, stopWith } from './lib/proxy-app.js';

const PATH = '/workspaces/echo/mcp';

function reply(res, status, body, headers = {}) {
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

async function handle(req, res, text) {
  const message = JSON.parse(text);
  if (message.id === undefined) return reply(res, 202, '');
  if (message.method === 'initialize') {
    const info = await bridge.serverInfo('echo');
    const result = { ...info, protocolVersion: message.params?.protocolVersion ?? info.protocolVersion };
    return reply(res, 200, JSON.stringify({ jsonrpc: '2.0', id: message.id, result }), { 'Mcp-Session-Id': randomUUID() });
  }
  try {
    const result = await bridge.call('echo', message.method, message.params, { raw: true });
    reply(res, 200, `{"jsonrpc":"2.0","id":${JSON.stringify(message.id)},"result":${result}}`);
  } catch (err) {
    reply(res, 200, JSON.stringify({ jsonrpc: '2.0', id: message.id, error: { code: -32603, message: String(err.message) } }));
  }
}

function handler(req, res) {
  if (req.url !== PATH) return reply(res, 404, '{}');
  if (req.method === 'DELETE') return reply(res, 200, '');
  if (req.method !== 'POST') return reply(res, 405, '{}');
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', () => {
    handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err) => reply(res, 400, JSON.stringify({ error: String(err.message) })));
  });
}

let listener = handler;
if (spec.express) {
  listener = projectExpress()();
  listener.all(PATH, handler);
}
const server = http.createServer(listener);
server.keepAliveTimeout = 60_000;
server.listen(spec.port, '127.0.0.1');

stopWith(server);
