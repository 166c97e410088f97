// Server-sent events for MCP streams and the bridge's event stream (HTML
// Living Standard, Server-sent events; MCP 2025-06-18, Basic / Transports /
// Streamable HTTP). Every message is one event with its JSON text as its
// `data`: one line, as JSON.stringify writes it; JSON text from elsewhere
// (a result relayed as the server wrote it) may hold line breaks between
// tokens, and then takes one `data` line per line, which the client joins
// with newlines back into the same JSON.

/** Sends a comment this often on idle streams so proxies keep them open (ms). */
export const KEEPALIVE_MS = 25_000;

/**
 * The routers' default for the bytes a long-lived stream may hold unsent
 * (1 MiB): a client that reads slower than events come is cut off rather
 * than left to grow the server's memory; it reconnects (with
 * `Last-Event-ID` where the stream has ids).
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * How long a stream may stay over its limit without draining before it is
 * cut off (ms): a client that reads, after a burst, drains its buffer well
 * within it.
 */
export const STALL_MS = 5000;

/** Over this many times its limit a stream is cut off at once, stalled or not. */
const HARD_LIMIT_FACTOR = 4;

/** Line breaks as SSE reads them (HTML Living Standard, Server-sent events, Parsing an event stream). */
const LINE_BREAK = /[\r\n]/;
const LINE_BREAKS = /\r\n|\r|\n/;

/** An SSE stream over an Express response. */
export class SseStream {
  #res;
  #keepalive;
  #maxBufferedBytes;
  #stallMs;
  /** When a write first found the limit passed since the last drain (ms, performance.now()), else null. */
  #overSince = null;
  closed = false;

  /**
   * Writes the headers at once so the client sees the stream open.
   * @param {import('express').Response} res
   * @param {Record<string, string>} [headers]
   * @param {{ maxBufferedBytes?: number, stallMs?: number }} [options]
   *   `maxBufferedBytes`: bytes of earlier writes still unsent (in Node's
   *   buffers; the kernel's socket buffers do not count) past which the
   *   client counts as too slow. A write (an event or a keepalive) that
   *   finds more destroys the stream instead when the stream has not
   *   drained for `stallMs` (default `STALL_MS`) since it first passed the
   *   limit, or when it holds more than 4 times the limit. A single event
   *   of any size goes out. Default: no limit.
   */
  constructor(res, headers = {}, { maxBufferedBytes = Infinity, stallMs = STALL_MS } = {}) {
    this.#res = res;
    this.#maxBufferedBytes = maxBufferedBytes;
    this.#stallMs = stallMs;
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
    if (maxBufferedBytes !== Infinity) res.on('drain', () => (this.#overSince = null));
  }

  /** Sends one JSON-RPC message; false when the stream is closed (or the client left too much unread). */
  send(message) {
    return this.sendJson(JSON.stringify(message));
  }

  /** As `send`, for a message already serialized as JSON text. */
  sendJson(json) {
    const data = LINE_BREAK.test(json) ? json.split(LINE_BREAKS).join('\ndata: ') : json;
    return this.#write(`event: message\ndata: ${data}\n\n`);
  }

  /**
   * Sends one event with an `id` (what a reconnecting client sends back as
   * `Last-Event-ID`) and `value` as one JSON `data` line; the event type is
   * the default, `message`. False when the stream is closed.
   * @param {string | number} id no line breaks
   * @param {unknown} value
   */
  sendWithId(id, value) {
    return this.#write(`id: ${id}\ndata: ${JSON.stringify(value)}\n\n`);
  }

  /** Sends a comment every KEEPALIVE_MS until the stream closes. */
  keepAlive(ms = KEEPALIVE_MS) {
    this.#keepalive ??= setInterval(() => this.#write(': keepalive\n\n'), ms).unref();
    return this;
  }

  /**
   * Writes one event, unless the client is too slow (see the constructor):
   * then the response is destroyed (its 'close' fires, as for a client
   * that went away). False when the event was not written.
   */
  #write(text) {
    if (this.closed) return false;
    const unsent = this.#res.writableLength;
    if (unsent > this.#maxBufferedBytes) {
      const now = performance.now();
      this.#overSince ??= now;
      if (now - this.#overSince >= this.#stallMs || unsent > HARD_LIMIT_FACTOR * this.#maxBufferedBytes) {
        this.#res.destroy();
        this.#closed();
        return false;
      }
    }
    this.#res.write(text);
    return true;
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
