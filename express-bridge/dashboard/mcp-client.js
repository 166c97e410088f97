// A small MCP client for the tool console, over the workspace's streamable
// HTTP endpoint (MCP 2025-11-25, Basic / Transports / Streamable HTTP):
// `initialize` issues the session id, the client confirms with
// `notifications/initialized`, and each later POST carries `Mcp-Session-Id`
// and `MCP-Protocol-Version`. A request is answered as JSON, or as an SSE
// stream when progress comes before the result; the stream is parsed with
// eventsource-parser.
import { EventSourceParserStream } from './vendor/eventsource-parser/stream.js';

const PROTOCOL_VERSION = '2025-11-25';
const CLIENT_INFO = { name: 'fastmcp-bridge-dashboard', version: '1' };

/** A JSON-RPC error answered by the endpoint or the workspace. */
export class McpError extends Error {
  constructor({ code, message, data }, status) {
    super(message);
    this.name = 'McpError';
    this.code = code;
    this.data = data;
    this.status = status;
  }
}

export class McpClient {
  #endpoint;
  #sessionId = null;
  #protocolVersion = null;
  #nextId = 1;

  /** @param {string} endpoint URL of `/workspaces/:id/mcp` */
  constructor(endpoint) {
    this.#endpoint = endpoint;
  }

  get connected() {
    return this.#sessionId !== null;
  }

  /** Opens the session; answers the `initialize` result (server info, capabilities). */
  async connect() {
    const result = await this.#request('initialize', {
      protocolVersion: PROTOCOL_VERSION,
      capabilities: {},
      clientInfo: CLIENT_INFO,
    });
    this.#protocolVersion = result.protocolVersion;
    await this.#send({ jsonrpc: '2.0', method: 'notifications/initialized' });
    return result;
  }

  /** Every tool of the workspace, following `nextCursor`. */
  async listTools() {
    const tools = [];
    let cursor;
    do {
      const page = await this.#call('tools/list', cursor === undefined ? {} : { cursor });
      tools.push(...page.tools);
      cursor = page.nextCursor;
    } while (cursor);
    return tools;
  }

  /**
   * Calls a tool; `onProgress({ progress, total, message })` gets each
   * `notifications/progress` as it comes. Aborting `signal` closes the
   * response stream, which cancels the call upstream.
   */
  async callTool(name, args, { onProgress, onMessage, signal } = {}) {
    const progressToken = `console-${this.#nextId}`;
    return this.#call('tools/call', { name, arguments: args, _meta: { progressToken } }, {
      signal,
      onMessage(message) {
        if (message.method === 'notifications/progress' && message.params?.progressToken === progressToken) {
          onProgress?.(message.params);
        } else {
          onMessage?.(message);
        }
      },
    });
  }

  /**
   * Ends the session (DELETE); errors are ignored, the server ends idle
   * sessions anyway. `keepalive` lets the request outlive the page (on
   * `pagehide`).
   */
  async close({ keepalive = false } = {}) {
    if (!this.#sessionId) return;
    const headers = { 'mcp-session-id': this.#sessionId };
    this.#sessionId = null;
    await fetch(this.#endpoint, { method: 'DELETE', headers, credentials: 'same-origin', keepalive }).catch(() => {});
  }

  /** A request in the session; an ended session (404) is opened again once. */
  async #call(method, params, options) {
    if (!this.#sessionId) await this.connect();
    try {
      return await this.#request(method, params, options);
    } catch (err) {
      if (!(err instanceof McpError && err.status === 404 && err.data?.code === 'SESSION_NOT_FOUND')) throw err;
      this.#sessionId = null;
      await this.connect();
      return this.#request(method, params, options);
    }
  }

  /** Answers a server request in the session: `ping` with `{}`, others with -32601. */
  #answer(request) {
    const answer = request.method === 'ping'
      ? { jsonrpc: '2.0', id: request.id, result: {} }
      : { jsonrpc: '2.0', id: request.id, error: { code: -32601, message: `Method not found: ${request.method}` } };
    return this.#send(answer);
  }

  async #request(method, params, { onMessage, signal } = {}) {
    const id = this.#nextId++;
    const answer = await this.#send({ jsonrpc: '2.0', id, method, params }, { onMessage, signal, id });
    if (answer.error) throw new McpError(answer.error, answer.status);
    return answer.result;
  }

  /**
   * POSTs one message. Answers `{ result | error, status }` for a request:
   * from a JSON body, or the matching response of an SSE stream (other
   * messages on it go to `onMessage`); nothing for a notification (202).
   */
  async #send(message, { onMessage, signal, id } = {}) {
    const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
    if (this.#sessionId) headers['mcp-session-id'] = this.#sessionId;
    if (this.#protocolVersion) headers['mcp-protocol-version'] = this.#protocolVersion;
    const response = await fetch(this.#endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify(message),
      credentials: 'same-origin',
      signal,
    });
    const session = response.headers.get('mcp-session-id');
    if (session) this.#sessionId = session;
    if (id === undefined) {
      if (!response.ok) throw new Error(`${message.method ?? 'response'}: HTTP ${response.status}`);
      await response.text(); // read to its end: a cancelled body counts as a failed request
      return undefined;
    }
    const type = (response.headers.get('content-type') ?? '').split(';')[0].trim();
    if (type === 'text/event-stream') {
      const reader = response.body.pipeThrough(new TextDecoderStream()).pipeThrough(new EventSourceParserStream()).getReader();
      let answered = false;
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          const received = JSON.parse(value.data);
          if (received.id === id && ('result' in received || 'error' in received)) {
            answered = true;
            // The server ends the stream after the answer: read on to its end rather than cut it.
            (async () => {
              while (!(await reader.read()).done);
            })().catch(() => {});
            return { ...received, status: response.status };
          }
          if (typeof received.method === 'string' && received.id !== undefined) {
            // A request of the server's (ping, sampling, elicitation, roots):
            // this console declares no capability, so only ping is served.
            this.#answer(received).catch(() => {});
            continue;
          }
          onMessage?.(received);
        }
      } finally {
        if (!answered) reader.cancel().catch(() => {});
      }
      throw new Error(`${message.method}: the response stream ended without an answer`);
    }
    if (type === 'application/json') return { ...(await response.json()), status: response.status };
    throw new Error(`${message.method}: HTTP ${response.status} ${response.statusText}`);
  }
}
