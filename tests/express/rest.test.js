// The REST management routes that act on real workspace processes, on a
// real Express server: state, start / stop / restart, logs, the events
// stream, the state and restart series of /metrics, and authorization.
//
// The events stream is read with a real SSE parser, with Last-Event-ID
// resume and keepalive comments; state includes pid and restarts.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Bridge } from 'fastmcp-bridge';
import { bridgeRouter, managementRouter } from 'fastmcp-bridge/express';
import { createParser } from 'eventsource-parser';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

import { eventually, isAlive, labDir, serve } from '../helpers.js';

const WAIT_MS = 20_000;

/**
 * Opens `GET url` as an event stream and parses it as it arrives. `until`
 * waits, at most `ms`, for a condition on the events and comments so far.
 */
async function openEvents(url, headers = {}) {
  const controller = new AbortController();
  const response = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const events = [];
  const comments = [];
  let wake = () => {};
  const parser = createParser({
    onEvent(message) {
      events.push({ sseId: message.id, type: message.event, data: JSON.parse(message.data) });
      wake();
    },
    onComment(comment) {
      comments.push(comment.trim());
      wake();
    },
  });
  let ended = false;
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) parser.feed(decoder.decode(chunk, { stream: true }));
    } catch {
      // aborted by close()
    }
    ended = true;
    wake();
  })();
  return {
    response,
    events,
    comments,
    get ended() {
      return ended;
    },
    /** Waits until `check()` holds, at most `ms`. */
    async until(check, what, ms = WAIT_MS) {
      const deadline = Date.now() + ms;
      while (!check()) {
        const left = deadline - Date.now();
        if (left <= 0) assert.fail(`${what}: not within ${ms} ms (events ${JSON.stringify(events.map((e) => e.data))})`);
        await new Promise((resolve) => {
          const timer = setTimeout(resolve, left);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}

const post = (url, headers = {}) => fetch(url, { method: 'POST', headers });

async function json(responsePromise, status = 200) {
  const response = await responsePromise;
  const body = await response.json();
  assert.equal(response.status, status, JSON.stringify(body));
  return body;
}

/** The families of a /metrics scrape, by name. */
async function scrape(url) {
  const response = await fetch(url);
  assert.equal(response.status, 200);
  return Object.fromEntries(parsePrometheusTextFormat(await response.text()).map((f) => [f.name, f]));
}

function sample(family, labels) {
  const found = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels[k] === v));
  assert.ok(found, `${family.name} ${JSON.stringify(labels)}`);
  return Number(found.value);
}

const isStateTo = (workspace, to) => (e) => e.data.workspaceId === workspace && e.data.type === 'state' && e.data.to === to;

describe('REST lifecycle, logs, events and metrics on real workspaces', () => {
  let bridge;
  let router;
  let admin;
  let server;
  let api;

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, idle: { dir: labDir } } });
    router = bridgeRouter(bridge);
    admin = managementRouter(bridge, { eventsKeepAliveMs: 50 });
    server = await serve((app) => {
      app.use('/api', router);
      app.use('/admin', admin);
    });
    api = `${server.base}/api`;
  });

  after(async () => {
    await admin.close();
    await router.close();
    await server.close();
    await bridge.close();
  });

  it('stops a workspace (stopped, no pid, process gone) and starts it again with a new pid', async () => {
    const started = await json(post(`${api}/workspaces/lab/start`));
    assert.equal(started.state, 'ready');
    assert.ok(Number.isInteger(started.pid) && isAlive(started.pid));
    assert.ok(Number.isInteger(started.startedAt));

    const stopped = await json(post(`${api}/workspaces/lab/stop?graceMs=5000`));
    assert.equal(stopped.state, 'stopped');
    assert.equal(stopped.pid, null);
    assert.equal(stopped.startedAt, null);
    await eventually(() => !isAlive(started.pid), WAIT_MS);
    assert.equal((await json(fetch(`${api}/workspaces/lab`))).state, 'stopped');

    const again = await json(post(`${api}/workspaces/lab/start`));
    assert.equal(again.state, 'ready');
    assert.notEqual(again.pid, started.pid);
    assert.ok(isAlive(again.pid));
    const listed = (await json(fetch(`${api}/workspaces`))).workspaces.find((w) => w.id === 'lab');
    assert.equal(listed.pid, again.pid);
  });

  it('restarts on request with a new process; a crash is restarted by the supervisor and counted', async () => {
    const before = await json(fetch(`${api}/workspaces/lab`));
    const restarted = await json(post(`${api}/workspaces/lab/restart`));
    assert.equal(restarted.state, 'ready');
    assert.notEqual(restarted.pid, before.pid);
    assert.equal(restarted.restarts, before.restarts, 'a restart on request is not a supervisor restart');

    // A real crash: the process is killed from outside.
    process.kill(restarted.pid, 'SIGKILL');
    let after;
    await eventually(async () => {
      after = await json(fetch(`${api}/workspaces/lab`));
      return after.state === 'ready' && after.pid !== restarted.pid;
    }, WAIT_MS);
    assert.equal(after.restarts, before.restarts + 1);
    assert.equal(after.lastExit, 'signal 9');
    assert.equal((await json(fetch(`${api}/workspaces`))).workspaces.find((w) => w.id === 'lab').restarts, after.restarts);

    const families = await scrape(`${api}/metrics`);
    const restarts = families.fastmcp_bridge_restarts_total;
    assert.equal(restarts.type, 'COUNTER');
    assert.equal(sample(restarts, { workspace: 'lab' }), after.restarts);
    assert.equal(sample(restarts, { workspace: 'idle' }), 0);
    const state = families.fastmcp_bridge_workspace_state;
    assert.equal(state.type, 'GAUGE');
    const labStates = Object.fromEntries(state.metrics.filter((m) => m.labels.workspace === 'lab').map((m) => [m.labels.state, Number(m.value)]));
    assert.deepEqual(labStates, { stopped: 0, starting: 0, ready: 1, unhealthy: 0, restarting: 0, stopping: 0, failed: 0 });
    assert.equal(sample(state, { workspace: 'idle', state: 'stopped' }), 1);
    assert.equal(sample(state, { workspace: 'idle', state: 'ready' }), 0);
  });

  it('serves at most `lines` log lines, the newest, and 400 for a bad `lines`', async () => {
    const all = (await json(fetch(`${api}/workspaces/lab/logs?lines=100000`))).lines;
    assert.ok(all.length > 2, `the hub wrote ${all.length} lines over its starts`);
    for (const line of all) {
      assert.deepEqual(Object.keys(line).sort(), ['at', 'line', 'stream']);
      assert.ok(line.stream === 'stdout' || line.stream === 'stderr');
    }
    const two = await json(fetch(`${api}/workspaces/lab/logs?lines=2`));
    assert.equal(two.id, 'lab');
    assert.equal(two.lines.length, 2);
    const later = (await json(fetch(`${api}/workspaces/lab/logs?lines=100000`))).lines;
    assert.ok(
      [all.slice(-2), later.slice(-2)].some((newest) => JSON.stringify(newest) === JSON.stringify(two.lines)),
      'the two newest lines',
    );
    assert.deepEqual((await json(fetch(`${api}/workspaces/lab/logs?lines=0`))).lines, []);
    assert.ok((await json(fetch(`${api}/workspaces/lab/logs`))).lines.length <= 100, 'default 100');

    for (const query of ['lines=-1', 'lines=abc', 'lines=1.5', 'lines=100001', 'lines=', 'lines=1&lines=2', 'lines=1e3']) {
      const body = await json(fetch(`${api}/workspaces/lab/logs?${query}`), 400);
      assert.equal(body.error.code, 'INVALID_REQUEST', query);
      assert.equal(body.error.details.parameter, 'lines', query);
    }
  });

  it('streams a live log tail with Accept: text/event-stream: the last lines, then each new one once', async () => {
    await json(post(`${api}/workspaces/lab/start`));
    const stream = await openEvents(`${api}/workspaces/lab/logs?lines=3`);
    assert.equal(stream.response.status, 200);
    assert.match(stream.response.headers.get('content-type'), /^text\/event-stream/);
    await stream.until(() => stream.events.length >= 3, 'the tail');
    const before = bridge.logs('lab', { lines: 100000 }).length;
    // New output: the restarted hub's start.
    await json(post(`${api}/workspaces/lab/restart`));
    const grown = () => bridge.logs('lab', { lines: 100000 }).length > before;
    await eventually(grown, WAIT_MS);
    await stream.until(() => stream.events.length > 3, 'a live line');
    // The lines arrive as they are written; give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await stream.close();
    for (const event of stream.events) {
      assert.equal(event.type, 'message', 'the default type, named');
      assert.equal(event.sseId, undefined, 'no ids');
      assert.deepEqual(Object.keys(event.data).sort(), ['at', 'line', 'stream']);
    }
    // Every line the stream sent is one the bridge kept, each once: the
    // tail and the live lines overlap nowhere.
    const text = ({ at, stream, line }) => JSON.stringify([at, stream, line]);
    const kept = bridge.logs('lab', { lines: 100000 }).map(text);
    const sent = stream.events.map((e) => text(e.data));
    assert.equal(new Set(sent).size, sent.length, 'a line sent twice');
    assert.deepEqual([...sent].sort(), kept.slice(-sent.length).sort());
  });

  it('watches a workspace\'s output from JS: bridge.watchLogs', async () => {
    const seen = [];
    const stop = bridge.watchLogs('lab', (line) => seen.push(line), { lines: 2 });
    assert.equal(seen.length, 2, 'the tail comes before watchLogs returns');
    assert.deepEqual(seen, bridge.logs('lab', { lines: 2 }));
    await json(post(`${api}/workspaces/lab/restart`));
    await eventually(() => seen.length > 2, WAIT_MS);
    stop();
    stop(); // idempotent
    const count = seen.length;
    await json(post(`${api}/workspaces/lab/restart`));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(seen.length, count, 'lines after stop()');
    assert.throws(() => bridge.watchLogs('nope', () => {}), { code: 'UNKNOWN_WORKSPACE' });
    assert.throws(() => bridge.watchLogs('lab', () => {}, { lines: -1 }), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => bridge.watchLogs('lab', 'not a function'), { code: 'INVALID_ARGUMENT' });
  });

  it('answers 404 for an unknown workspace and 400 for a malformed id or graceMs on every workspace route', async () => {
    for (const [method, path] of [['POST', 'start'], ['POST', 'stop'], ['POST', 'restart'], ['GET', 'logs']]) {
      const unknown = await json(fetch(`${api}/workspaces/nope/${path}`, { method }), 404);
      assert.deepEqual(unknown.error, { code: 'UNKNOWN_WORKSPACE', message: 'unknown workspace "nope"', details: { workspace: 'nope' } });
      const malformed = await json(fetch(`${api}/workspaces/-x/${path}`, { method }), 400);
      assert.equal(malformed.error.code, 'INVALID_WORKSPACE_ID');
    }
    for (const path of ['stop', 'restart']) {
      const body = await json(post(`${api}/workspaces/idle/${path}?graceMs=soon`), 400);
      assert.equal(body.error.details.parameter, 'graceMs');
    }
    assert.equal(bridge.status('idle').state, 'stopped', 'nothing started on a refused request');
  });

  it('streams live events with the bridge\'s event ids', async () => {
    const stream = await openEvents(`${api}/events`);
    assert.equal(stream.response.status, 200);
    assert.match(stream.response.headers.get('content-type'), /^text\/event-stream/);
    await json(post(`${api}/workspaces/idle/start`));
    await stream.until(() => stream.events.some(isStateTo('idle', 'ready')), 'idle ready');
    await stream.close();

    const ids = stream.events.map((e) => e.data.id);
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(new Set(ids).size, ids.length);
    for (const event of stream.events) {
      assert.equal(event.sseId, String(event.data.id));
      assert.equal(event.type, undefined, 'no event field: the default type, message');
    }
    const buffered = new Map(bridge.events().map((e) => [e.id, e]));
    assert.deepEqual(stream.events.map((e) => e.data), ids.map((id) => buffered.get(id)));
    assert.deepEqual(
      stream.events.filter((e) => e.data.workspaceId === 'idle').map((e) => e.data.to),
      ['starting', 'ready'],
    );
  });

  it('resumes after Last-Event-ID with exactly the missed events, then live ones, each once', async () => {
    const first = await openEvents(`${api}/events`);
    await json(post(`${api}/workspaces/idle/stop`));
    await first.until(() => first.events.some(isStateTo('idle', 'stopped')), 'idle stopped');
    await first.close();
    const lastId = first.events.at(-1).data.id;

    // Missed while disconnected.
    await json(post(`${api}/workspaces/idle/start`));
    const missed = bridge.events().filter((e) => e.id > lastId);
    assert.ok(missed.some((e) => e.workspaceId === 'idle' && e.to === 'ready'), JSON.stringify(missed));

    const resumed = await openEvents(`${api}/events`, { 'last-event-id': String(lastId) });
    await resumed.until(() => resumed.events.length >= missed.length, 'the missed events');
    assert.deepEqual(resumed.events.slice(0, missed.length).map((e) => e.data), missed);

    await json(post(`${api}/workspaces/idle/stop`));
    await resumed.until(() => resumed.events.some((e) => e.data.id > missed.at(-1).id && isStateTo('idle', 'stopped')(e)), 'live stop');
    await resumed.close();
    const ids = resumed.events.map((e) => e.data.id);
    assert.equal(new Set(ids).size, ids.length, 'no event twice');
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
    assert.equal(ids[0], lastId + 1);
  });

  it('replays the whole buffer for a Last-Event-ID beyond the newest, and refuses one that is not an id', async () => {
    const buffered = bridge.events();
    assert.ok(buffered.length > 0);
    const stream = await openEvents(`${api}/events`, { 'last-event-id': String(buffered.at(-1).id + 1000) });
    await stream.until(() => stream.events.length >= buffered.length, 'the buffer');
    await stream.close();
    assert.deepEqual(stream.events.slice(0, buffered.length).map((e) => e.data), buffered);

    const bad = await json(fetch(`${api}/events`, { headers: { 'last-event-id': 'abc' } }), 400);
    assert.equal(bad.error.code, 'INVALID_REQUEST');
  });

  it('sends a keepalive comment every eventsKeepAliveMs', async () => {
    const stream = await openEvents(`${server.base}/admin/events`);
    await stream.until(() => stream.comments.filter((c) => c === 'keepalive').length >= 2, 'two keepalive comments');
    await stream.close();
  });

  it('shares one bridge listener among open streams and removes it when the last client leaves', async () => {
    await eventually(() => bridge.listenerCount('event') === 0, WAIT_MS); // the earlier tests' streams
    const one = await openEvents(`${api}/events`);
    const two = await openEvents(`${api}/events`);
    const three = await openEvents(`${server.base}/admin/events`);
    await eventually(() => bridge.listenerCount('event') === 2, WAIT_MS); // one per router
    await one.close();
    await three.close();
    await eventually(() => bridge.listenerCount('event') === 1, WAIT_MS);
    await two.close();
    await eventually(() => bridge.listenerCount('event') === 0, WAIT_MS);

    const head = await fetch(`${api}/events`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type'), /^text\/event-stream/);
    assert.equal(bridge.listenerCount('event'), 0, 'HEAD subscribes to nothing');
  });

  it('ends open event streams when the router closes', async () => {
    const closing = managementRouter(bridge);
    const other = await serve((app) => app.use(closing));
    try {
      const stream = await openEvents(`${other.base}/events`);
      await eventually(() => bridge.listenerCount('event') === 1, WAIT_MS);
      await closing.close();
      await stream.until(() => stream.ended, 'the stream to end');
      assert.equal(bridge.listenerCount('event'), 0);
    } finally {
      await other.close();
    }
  });
});

describe('REST routes with authenticate and authorize', () => {
  let bridge;
  let router;
  let server;
  let api;
  const alice = { authorization: 'Bearer alice' };
  const root = { authorization: 'Bearer root' };

  before(async () => {
    bridge = new Bridge({ workspaces: { lab: { dir: labDir }, idle: { dir: labDir } } });
    router = bridgeRouter(bridge, {
      authenticate: (req) => ({ 'Bearer alice': { user: 'alice' }, 'Bearer root': { user: 'root' } })[req.get('authorization')] ?? null,
      // alice may reach lab only.
      authorize: (principal, workspaceId) => principal.user === 'root' || workspaceId === 'lab',
    });
    server = await serve((app) => app.use('/api', router));
    api = `${server.base}/api`;
  });

  after(async () => {
    await router.close();
    await server.close();
    await bridge.close();
  });

  it('answers 401 without credentials on every management route', async () => {
    for (const [method, path] of [
      ['GET', 'workspaces'], ['GET', 'workspaces/lab'], ['POST', 'workspaces/lab/start'], ['POST', 'workspaces/lab/stop'],
      ['POST', 'workspaces/lab/restart'], ['GET', 'workspaces/lab/logs'], ['GET', 'events'], ['GET', 'metrics'],
    ]) {
      const response = await fetch(`${api}/${path}`, { method });
      assert.equal(response.status, 401, path);
      assert.equal(response.headers.get('www-authenticate'), 'Bearer');
      assert.equal((await response.json()).error.code, 'UNAUTHORIZED');
    }
    assert.equal(bridge.status('lab').state, 'stopped');
  });

  it('lets a principal list, start, stop, restart and read logs only of the workspaces it may reach', async () => {
    assert.deepEqual((await json(fetch(`${api}/workspaces`, { headers: alice }))).workspaces.map((w) => w.id), ['lab']);
    assert.deepEqual((await json(fetch(`${api}/workspaces`, { headers: root }))).workspaces.map((w) => w.id), ['idle', 'lab']);
    for (const [method, path] of [['GET', ''], ['POST', '/start'], ['POST', '/stop'], ['POST', '/restart'], ['GET', '/logs']]) {
      const body = await json(fetch(`${api}/workspaces/idle${path}`, { method, headers: alice }), 403);
      assert.deepEqual(body.error, { code: 'FORBIDDEN', message: 'not allowed to reach this workspace', details: { workspace: 'idle' } }, path);
    }
    assert.equal(bridge.status('idle').state, 'stopped', 'a refused start starts nothing');
    assert.equal((await json(post(`${api}/workspaces/lab/start`, alice))).state, 'ready');
    assert.ok(Array.isArray((await json(fetch(`${api}/workspaces/lab/logs?lines=5`, { headers: alice }))).lines));
  });

  it('streams to a principal only the events of workspaces it may reach', async () => {
    const aliceStream = await openEvents(`${api}/events`, alice);
    const rootStream = await openEvents(`${api}/events`, root);
    await json(post(`${api}/workspaces/idle/start`, root));
    await rootStream.until(() => rootStream.events.some(isStateTo('idle', 'ready')), 'idle ready for root');
    // Events go out in id order: once alice has the later lab event, any idle
    // event before it would have reached her already.
    await json(post(`${api}/workspaces/lab/stop`, root));
    await aliceStream.until(() => aliceStream.events.some(isStateTo('lab', 'stopped')), 'lab stopped for alice');
    await rootStream.until(() => rootStream.events.some(isStateTo('lab', 'stopped')), 'lab stopped for root');
    await aliceStream.close();
    await rootStream.close();
    assert.deepEqual([...new Set(aliceStream.events.map((e) => e.data.workspaceId))], ['lab']);
    assert.deepEqual([...new Set(rootStream.events.map((e) => e.data.workspaceId))].sort(), ['idle', 'lab']);

    // The same filter applies to the buffer replayed on resume.
    const resumed = await openEvents(`${api}/events`, { ...alice, 'last-event-id': '0' });
    const labEvents = bridge.events().filter((e) => e.workspaceId === 'lab');
    await resumed.until(() => resumed.events.length >= labEvents.length, 'lab events replayed');
    await resumed.close();
    assert.deepEqual(resumed.events.map((e) => e.data), labEvents);
  });
});
