// SseStream's buffer limit against real sockets on loopback: a client that
// stops reading is cut off; one that keeps up gets every event.
//
// A slow client is cut off once its unread bytes stay over the limit or pass
// four times it; one that keeps up gets every event, also after a burst over
// the limit, and a single event larger than the limit still goes out.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { createParser } from 'eventsource-parser';

import { SseStream } from '../../express-bridge/sse.js';

const LIMIT = 256 * 1024;
/** Bound on what the slow-client test writes before it gives up. */
const MAX_WRITTEN = 256 * 1024 * 1024;

describe('SseStream buffer limit', () => {
  let server;
  let port;
  /** The handler of the next request: `(req, res) => void`. */
  let handle;

  before(async () => {
    server = http.createServer((req, res) => handle(req, res));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    port = server.address().port;
  });

  after(async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  });

  /** Reads the whole stream as a client that keeps up: its text and its event ids, in order. */
  async function readStream() {
    const response = await fetch(`http://127.0.0.1:${port}/stream`, { headers: { accept: 'text/event-stream' } });
    const text = await response.text();
    return { text, ids: [...text.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])) };
  }

  /** A raw client that sends a GET and does not read the answer (paused). */
  async function stalledClient() {
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.pause();
    socket.write(`GET /stream HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\n\r\n`);
    return socket;
  }

  it('destroys at four times the limit the stream of a client that stops reading, and writes no more', async () => {
    const event = 'x'.repeat(16 * 1024);
    const served = new Promise((resolve) => {
      handle = (_req, res) => {
        // A stall too long to matter here: the hard limit cuts it off.
        const stream = new SseStream(res, {}, { maxBufferedBytes: LIMIT, stallMs: 600_000 });
        const closed = once(res, 'close');
        let written = 0;
        let maxUnsent = 0;
        const pump = () => {
          for (let i = 0; i < 16; i++) {
            const unsent = res.writableLength;
            if (!stream.sendWithId(written, event)) {
              resolve({ stream, written, maxUnsent, unsentAtCut: unsent, closed });
              return;
            }
            written += 1;
            maxUnsent = Math.max(maxUnsent, res.writableLength);
            if (written * event.length > MAX_WRITTEN) {
              resolve({ stream, written, maxUnsent, unsentAtCut: null, closed });
              return;
            }
          }
          setImmediate(pump);
        };
        pump();
      };
    });
    const socket = await stalledClient();
    const outcome = await served;
    assert.notEqual(outcome.unsentAtCut, null, `never cut off after ${outcome.written} events`);
    assert.ok(outcome.unsentAtCut > 4 * LIMIT);
    // No write is made over the hard limit: at most one event beyond it is held.
    assert.ok(outcome.maxUnsent <= 4 * LIMIT + event.length + 64, `held ${outcome.maxUnsent} bytes`);
    assert.equal(outcome.stream.closed, true);
    assert.equal(outcome.stream.send({ jsonrpc: '2.0', method: 'late' }), false);
    await outcome.closed; // the response's 'close' fired, as for a client that went away
    // The client, reading again, sees the connection end.
    socket.resume();
    await once(socket, 'close');
  });

  it('delivers every event to a client that keeps up, and one event larger than the limit', async () => {
    const count = 2000;
    const small = 'y'.repeat(1024);
    const large = 'z'.repeat(4 * LIMIT);
    handle = (_req, res) => {
      const stream = new SseStream(res, {}, { maxBufferedBytes: LIMIT });
      let i = 0;
      const pump = () => {
        if (i === count) {
          assert.equal(stream.sendWithId(i, large), true);
          stream.end();
          return;
        }
        assert.equal(stream.sendWithId(i, small), true);
        i += 1;
        setImmediate(pump);
      };
      pump();
    };
    const { text, ids } = await readStream();
    assert.deepEqual(ids, Array.from({ length: count + 1 }, (_, i) => i));
    assert.ok(text.includes(JSON.stringify(large)));
  });

  it('sends JSON text with line breaks between tokens as data lines that join back into the same JSON', async () => {
    const value = { jsonrpc: '2.0', id: 7, result: { text: 'a\nb', list: [1, 2] } };
    const pretty = JSON.stringify(value, null, 2).replace('\n', '\r\n');
    handle = (_req, res) => {
      const stream = new SseStream(res);
      assert.equal(stream.sendJson(pretty), true);
      assert.equal(stream.send(value), true);
      stream.end();
    };
    const response = await fetch(`http://127.0.0.1:${port}/stream`, { headers: { accept: 'text/event-stream' } });
    const events = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    parser.feed(await response.text());
    assert.equal(events.length, 2);
    for (const event of events) {
      assert.equal(event.event, 'message');
      assert.deepEqual(JSON.parse(event.data), value);
    }
  });

  it('destroys the stream of a client that stays over the limit without draining for stallMs', async () => {
    const event = 'w'.repeat(16 * 1024);
    const stallMs = 200;
    const served = new Promise((resolve) => {
      handle = (_req, res) => {
        const stream = new SseStream(res, {}, { maxBufferedBytes: LIMIT, stallMs });
        // Fill the kernel's socket buffers (they grow as data waits) until
        // twice the limit stays in Node's buffer; not four times it.
        const fill = () => {
          for (let i = 0; i < 16 && res.writableLength <= 2 * LIMIT; i++) assert.equal(stream.sendWithId(0, event), true);
          if (res.writableLength <= 2 * LIMIT) return setImmediate(fill);
          setTimeout(() => (res.writableLength <= LIMIT ? fill() : stall()), 100);
        };
        const stall = () => {
          // Over the limit: one more write is still made (the stall is timed from the first such write) ...
          assert.equal(stream.sendWithId(1, event), true);
          const start = performance.now();
          // ... and one after stallMs without a drain is not.
          setTimeout(() => resolve({ stream, cut: !stream.sendWithId(2, event), waitedMs: performance.now() - start }), stallMs + 50);
        };
        fill();
      };
    });
    const socket = await stalledClient();
    const outcome = await served;
    assert.equal(outcome.cut, true, `not cut off after ${outcome.waitedMs} ms over the limit`);
    assert.equal(outcome.stream.closed, true);
    socket.destroy();
  });

  it('keeps a client that reads after a burst over the limit', async () => {
    const burst = 3; // events of LIMIT bytes each, in one run of JS code: three times the limit
    const count = 200;
    handle = (_req, res) => {
      const stream = new SseStream(res, {}, { maxBufferedBytes: LIMIT, stallMs: 2000 });
      for (let i = 0; i < burst; i++) assert.equal(stream.sendWithId(i, 'b'.repeat(LIMIT)), true);
      let i = burst;
      const pump = () => {
        if (i === burst + count) return stream.end();
        assert.equal(stream.sendWithId(i, 's'), true, `cut off at event ${i}`);
        i += 1;
        setImmediate(pump);
      };
      pump();
    };
    const { ids } = await readStream();
    assert.deepEqual(ids, Array.from({ length: burst + count }, (_, i) => i));
  });
});
