// Server-sent events for MCP streams and the bridge's event stream (HTML
// Living Standard, Server-sent events; MCP 2025-06-18, Basic / Transports /
// Streamable HTTP). Every message is one event with its JSON value as one
// `data` line: JSON.stringify never emits a raw newline, so no line splitting.

/** Sends a comment this often on idle streams so proxies keep them open (ms). */
export const KEEPALIVE_MS = 25_000;

/** An SSE stream over an Express response. */
export class SseStream {
  #res;
  #keepalive;
  closed = false;

  /**
   * Writes the headers at once so the client sees the stream open.
   * @param {import('express').Response} res
   * @param {Record<string, string>} [headers]
   */
  constructor(res, headers = {}) {
    this.#res = res;
    res.writeHead(200, {
      ...headers,
      'Content-Type': 'text/event-stream',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // Disables response buffering in nginx, so events arrive as they happen.
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.on('close', () => this.#closed());
  }

  /** Sends one JSON-RPC message; false when the stream is closed. */
  send(message) {
    if (this.closed) return false;
    this.#res.write(`event: message\ndata: ${JSON.stringify(message)}\n\n`);
    return true;
  }

  /**
   * Sends one event with an `id` (what a reconnecting client sends back as
   * `Last-Event-ID`) and `value` as one JSON `data` line; the event type is
   * the default, `message`. False when the stream is closed.
   * @param {string | number} id no line breaks
   * @param {unknown} value
   */
  sendWithId(id, value) {
    if (this.closed) return false;
    this.#res.write(`id: ${id}\ndata: ${JSON.stringify(value)}\n\n`);
    return true;
  }

  /** Sends a comment every KEEPALIVE_MS until the stream closes. */
  keepAlive(ms = KEEPALIVE_MS) {
    this.#keepalive ??= setInterval(() => {
      if (!this.closed) this.#res.write(': keepalive\n\n');
    }, ms).unref();
    return this;
  }

  /** Ends the stream; idempotent. */
  end() {
    if (this.closed) return;
    this.#res.end();
    this.#closed();
  }

  #closed() {
    this.closed = true;
    clearInterval(this.#keepalive);
  }
}
