// The operator dashboard. It calls the bridge router's routes only: the
// REST routes for workspaces, lifecycle, logs and the request log, `GET
// /events` (server-sent events, through the browser's EventSource), and a
// workspace's MCP endpoint for the tool console.
import { html, render, useCallback, useEffect, useMemo, useRef, useState } from './vendor/preact-htm.js';

import { ErrorRateChart, LatencyChart } from './charts.js';
import { McpClient } from './mcp-client.js';

/** A base URL from one of the page's meta elements (a path relative to the page). */
const base = (name) => new URL(`${document.querySelector(`meta[name="${name}"]`).content.replace(/\/?$/, '/')}`, document.baseURI);
/** Where the router's REST and SSE routes are, and where its MCP endpoints are. */
const API = base('fastmcp-bridge-api');
const MCP = base('fastmcp-bridge-mcp');
const api = (path) => new URL(path, API).href;
const workspacePath = (id, rest = '') => `workspaces/${encodeURIComponent(id)}${rest}`;

const POLL_MS = 2000;
const MAX_EVENTS = 200;
const LOG_LINES = 200;
const REQUEST_LIMIT = 200;

/** A REST error (`{ error: { code, message, details } }`) or a failed fetch. */
class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? null;
  }
}

async function rest(path, { method = 'GET' } = {}) {
  const response = await fetch(api(path), { method, headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

// ---- formatting ----

const time = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
const mib = (bytes) => (bytes == null ? '–' : `${(bytes / 1048576).toFixed(1)} MiB`);
const percent = (value) => (value == null ? '–' : `${value.toFixed(1)} %`);
const ms = (value) => (value == null ? '–' : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`);

function uptime(startedAt, now) {
  if (startedAt == null) return '–';
  let s = Math.max(0, Math.floor((now - startedAt) / 1000));
  const parts = [];
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]]) {
    if (s >= size || parts.length) parts.push(`${Math.floor(s / size)}${unit}`);
    s %= size;
  }
  parts.push(`${s}s`);
  return parts.slice(0, 3).join(' ');
}

/** What an event says besides its type. */
function eventDetail(event) {
  switch (event.type) {
    case 'state':
      return `${event.from} → ${event.to}`;
    case 'restart':
      return `${event.reason ?? ''}${event.delayMs != null ? ` in ${event.delayMs} ms` : ''}`;
    case 'crash':
      return `${event.status ?? ''}${event.pid != null ? ` (pid ${event.pid})` : ''}`;
    case 'health_failure':
      return `${event.failures} failures: ${event.error ?? ''}`;
    case 'memory_restart':
      return `${mib(event.rssBytes ?? event.ussBytes)} > ${mib(event.maxBytes)}`;
    case 'idle_stop':
      return `idle ${event.idleMs} ms`;
    case 'evicted':
      return `for ${event.for}`;
    case 'failed':
      return String(event.reason ?? '');
    default:
      return '';
  }
}

// ---- hooks ----

/** Runs `fn` now and every `period` ms while mounted and `deps` hold; `fn` gets whether it is still current. */
function usePoll(fn, period, deps) {
  useEffect(() => {
    let current = true;
    let timer;
    const tick = async () => {
      await fn(() => current);
      if (current) timer = setTimeout(tick, period);
    };
    tick();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, deps);
}

/** The current time, updated every second (uptimes). */
function useNow() {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  return now;
}

// ---- workspaces ----

function StateBadge({ state }) {
  return html`<span class=${`state state-${state}`} data-field="state">${state}</span>`;
}

function WorkspaceRow({ workspace: w, now, focused, onFocus, onAction, pending }) {
  const busy = pending !== undefined;
  const button = (action, label) => html`
    <button type="button" data-action=${action} aria-label=${`${label} ${w.id}`} disabled=${busy} onClick=${() => onAction(w.id, action)}>${label}</button>`;
  return html`
    <tr data-workspace=${w.id} class=${focused ? 'focused' : ''}>
      <th scope="row"><button type="button" class="link" onClick=${() => onFocus(w.id)} aria-pressed=${focused}>${w.id}</button></th>
      <td><${StateBadge} state=${w.state} />${busy ? html` <span class="pending">${pending}…</span>` : ''}</td>
      <td class="num" data-field="pid">${w.pid ?? '–'}</td>
      <td class="num" data-field="uptime">${uptime(w.startedAt, now)}</td>
      <td class="num" data-field="restarts">${w.restarts}</td>
      <td class="num" data-field="rss">${mib(w.rssBytes)}</td>
      <td class="num" data-field="cpu">${percent(w.cpuPercent)}</td>
      <td class="num" data-field="inFlight">${w.metrics.inFlight}</td>
      <td class="num" data-field="queued">${w.metrics.queued}</td>
      <td class="num">${w.sessions}</td>
      <td class="num">${w.metrics.requests}${w.metrics.errors + w.metrics.timeouts ? html` <span class="bad">(${w.metrics.errors + w.metrics.timeouts} failed)</span>` : ''}</td>
      <td class="actions">${button('start', 'Start')}${button('stop', 'Stop')}${button('restart', 'Restart')}</td>
    </tr>
    ${w.lastError ? html`<tr class="last-error"><td colspan="12">last error: ${w.lastError}${w.lastExit ? ` (${w.lastExit})` : ''}</td></tr>` : ''}`;
}

function Workspaces({ workspaces, focus, onFocus, onAction, pending }) {
  const now = useNow();
  return html`
    <section class="card wide" aria-labelledby="workspaces-title">
      <h2 id="workspaces-title">Workspaces</h2>
      <table id="workspace-table">
        <thead>
          <tr>
            <th scope="col">workspace</th><th scope="col">state</th><th scope="col" class="num">pid</th>
            <th scope="col" class="num">uptime</th><th scope="col" class="num">restarts</th><th scope="col" class="num">RSS</th>
            <th scope="col" class="num">CPU</th><th scope="col" class="num">in flight</th><th scope="col" class="num">queued</th>
            <th scope="col" class="num">sessions</th><th scope="col" class="num">calls</th><th scope="col">actions</th>
          </tr>
        </thead>
        <tbody>
          ${workspaces.map((w) => html`<${WorkspaceRow} key=${w.id} workspace=${w} now=${now} focused=${w.id === focus}
            onFocus=${onFocus} onAction=${onAction} pending=${pending[w.id]} />`)}
        </tbody>
      </table>
      ${workspaces.length === 0 ? html`<p class="empty">No workspace to show.</p>` : ''}
    </section>`;
}

// ---- events and logs ----

function Events({ events, connected }) {
  return html`
    <section class="card" aria-labelledby="events-title">
      <h2 id="events-title">Events <span class=${`dot ${connected ? 'on' : 'off'}`} title=${connected ? 'live' : 'reconnecting'}></span></h2>
      <ol id="events-feed" class="feed">
        ${events.map((e) => html`
          <li key=${e.id} data-workspace=${e.workspaceId} data-type=${e.type}>
            <time>${time(e.at)}</time> <b>${e.workspaceId}</b> <span class="type">${e.type}</span> ${eventDetail(e)}
          </li>`)}
      </ol>
      ${events.length === 0 ? html`<p class="empty">Supervision events appear here as they happen.</p>` : ''}
    </section>`;
}

function Logs({ id }) {
  const [lines, setLines] = useState([]);
  const [connected, setConnected] = useState(false);
  const box = useRef(null);
  // The live tail: the last LOG_LINES lines, then each new one. Each
  // (re)connection starts with the tail again, so it replaces what is shown.
  useEffect(() => {
    const source = new EventSource(api(`${workspacePath(id, '/logs')}?lines=${LOG_LINES}`));
    source.onopen = () => {
      setConnected(true);
      setLines([]);
    };
    source.onerror = () => setConnected(false);
    source.onmessage = (message) => {
      const line = JSON.parse(message.data);
      setLines((shown) => [...shown.slice(-(LOG_LINES - 1)), line]);
    };
    return () => source.close();
  }, [id]);
  // Follows the tail unless the reader scrolled up.
  const atBottom = useRef(true);
  useEffect(() => {
    if (atBottom.current && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines]);
  const onScroll = (e) => {
    const el = e.currentTarget;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
  };
  return html`
    <section class="card" aria-labelledby="logs-title">
      <h2 id="logs-title">Log tail: ${id} <span class=${`dot ${connected ? 'on' : 'off'}`} title=${connected ? 'live' : 'reconnecting'}></span></h2>
      <pre id="log-tail" class="log" ref=${box} onScroll=${onScroll}>${lines.length === 0
        ? html`<span class="empty">No output yet.</span>`
        : lines.map((l) => html`<span class=${`line ${l.stream}`}><time>${time(l.at)}</time> ${l.line}</span>`)}</pre>
    </section>`;
}

// ---- tool console ----

/** A JSON arguments skeleton from a tool's input schema. */
function skeleton(schema) {
  const args = {};
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (!(schema.required ?? []).includes(name) && property.default === undefined) continue;
    if (property.default !== undefined) args[name] = property.default;
    else args[name] = { string: '', number: 0, integer: 0, boolean: false, array: [], object: {} }[property.type] ?? null;
  }
  return JSON.stringify(args, null, 2);
}

function ToolResult({ outcome }) {
  if (!outcome) return null;
  if (outcome.error) {
    return html`<div id="tool-result" class="result failed" role="status"><b>Error</b>${outcome.code != null ? ` (${outcome.code})` : ''}: ${outcome.error}</div>`;
  }
  const { result, elapsedMs } = outcome;
  return html`
    <div id="tool-result" class=${`result ${result.isError ? 'failed' : 'ok'}`} role="status">
      <p><b>${result.isError ? 'Tool error' : 'Result'}</b> in ${ms(elapsedMs)}</p>
      ${(result.content ?? []).map((item) => item.type === 'text'
        ? html`<pre class="content-text">${item.text}</pre>`
        : html`<pre class="content-other">${JSON.stringify(item, null, 2)}</pre>`)}
      ${result.structuredContent !== undefined ? html`<details><summary>structuredContent</summary><pre>${JSON.stringify(result.structuredContent, null, 2)}</pre></details>` : ''}
    </div>`;
}

function ToolConsole({ id, onCalled }) {
  const client = useRef(null);
  const [tools, setTools] = useState(null);
  const [selected, setSelected] = useState(null);
  const [args, setArgs] = useState('{}');
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState([]);
  const [outcome, setOutcome] = useState(null);
  const [error, setError] = useState(null);
  const abort = useRef(null);

  useEffect(() => {
    const mcp = new McpClient(new URL(workspacePath(id, '/mcp'), MCP).href);
    client.current = mcp;
    setTools(null);
    setSelected(null);
    setOutcome(null);
    setProgress([]);
    setError(null);
    // The MCP session ends with the page too, not only with a change of workspace.
    const onPageHide = () => mcp.close({ keepalive: true });
    window.addEventListener('pagehide', onPageHide);
    return () => {
      window.removeEventListener('pagehide', onPageHide);
      abort.current?.abort();
      mcp.close();
    };
  }, [id]);

  const list = async () => {
    setBusy(true);
    setError(null);
    try {
      const found = await client.current.listTools();
      setTools(found);
      if (found.length) choose(found[0]);
    } catch (err) {
      setError(err.message);
    } finally {
      setBusy(false);
    }
  };

  const choose = (tool) => {
    setSelected(tool);
    setArgs(skeleton(tool.inputSchema));
    setOutcome(null);
    setProgress([]);
  };

  const call = async (event) => {
    event.preventDefault();
    let parsed;
    try {
      parsed = JSON.parse(args);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('arguments must be a JSON object');
    } catch (err) {
      setOutcome({ error: `invalid arguments: ${err.message}` });
      return;
    }
    setBusy(true);
    setOutcome(null);
    setProgress([]);
    abort.current = new AbortController();
    const started = performance.now();
    try {
      const result = await client.current.callTool(selected.name, parsed, {
        signal: abort.current.signal,
        onProgress: (p) => setProgress((all) => [...all, p]),
      });
      setOutcome({ result, elapsedMs: performance.now() - started });
    } catch (err) {
      setOutcome({ error: err.name === 'AbortError' ? 'cancelled' : err.message, code: err.code });
    } finally {
      abort.current = null;
      setBusy(false);
      onCalled();
    }
  };

  return html`
    <section class="card wide" id="tool-console" aria-labelledby="console-title">
      <h2 id="console-title">Tool console: ${id}</h2>
      <div class="console">
        <div class="tools">
          <button type="button" onClick=${list} disabled=${busy}>${tools ? 'Reload tools' : 'List tools'}</button>
          ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
          ${tools ? html`
            <ul class="tool-list" aria-label="tools">
              ${tools.map((t) => html`
                <li key=${t.name}>
                  <button type="button" data-tool=${t.name} class=${selected?.name === t.name ? 'chosen' : ''}
                    aria-pressed=${selected?.name === t.name} onClick=${() => choose(t)}>${t.name}</button>
                  <small>${t.description ?? ''}</small>
                </li>`)}
            </ul>` : html`<p class="empty">Lists the workspace's tools over its MCP endpoint (this starts a stopped workspace).</p>`}
        </div>
        ${selected ? html`
          <form class="call" onSubmit=${call}>
            <label for="tool-args">Arguments of <b>${selected.name}</b> (JSON)</label>
            <textarea id="tool-args" rows="6" spellcheck="false" value=${args} onInput=${(e) => setArgs(e.currentTarget.value)}></textarea>
            <details><summary>input schema</summary><pre>${JSON.stringify(selected.inputSchema, null, 2)}</pre></details>
            <div class="buttons">
              <button type="submit" disabled=${busy}>Call ${selected.name}</button>
              ${busy && abort.current ? html`<button type="button" onClick=${() => abort.current?.abort()}>Cancel</button>` : ''}
            </div>
            ${progress.length ? html`
              <ol class="progress" aria-label="progress">
                ${progress.map((p, i) => html`<li key=${i}>${p.progress}${p.total != null ? ` / ${p.total}` : ''}${p.message ? `: ${p.message}` : ''}</li>`)}
              </ol>` : ''}
            <${ToolResult} outcome=${outcome} />
          </form>` : ''}
      </div>
    </section>`;
}

// ---- request log ----

/** Set once the request log routes answer that the bridge has none; then they are not asked again (400s each time). */
let logOff = false;
const noRequestLog = (err) => err.status === 400 && err.code === 'INVALID_ARGUMENT' && /request log/i.test(err.message);

function Bar({ value, max, kind }) {
  const width = max > 0 ? Math.min(100, (100 * value) / max) : 0;
  // Set through the style property (CSSOM), which the page's style-src allows.
  const ref = useRef(null);
  useEffect(() => {
    if (ref.current) ref.current.style.width = `${width}%`;
  }, [width]);
  return html`<span class="bar"><span class=${`fill ${kind}`} ref=${ref}></span></span>`;
}

/** p50, p95 and error rate per workspace and tool, over every workspace shown. */
function Stats({ workspaces, version }) {
  const [rows, setRows] = useState([]);
  const [error, setError] = useState(null);
  const ids = workspaces.map((w) => w.id).join(',');
  usePoll(async (current) => {
    if (logOff) return;
    try {
      const all = await Promise.all(workspaces.map((w) => rest(workspacePath(w.id, '/requests/stats'))));
      if (current()) {
        setRows(all.flatMap((body) => body.stats));
        setError(null);
      }
    } catch (err) {
      if (noRequestLog(err)) logOff = true; // the table above says so
      else if (current()) setError(err.message);
    }
  }, POLL_MS * 2, [ids, version]);
  const maxP95 = Math.max(0, ...rows.map((r) => r.p95Ms));
  return html`
    <div class="stats">
      <h3>Latency and failures per workspace and tool</h3>
      ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
      <table id="stats-table">
        <thead><tr><th scope="col">workspace</th><th scope="col">method</th><th scope="col">name</th><th scope="col" class="num">calls</th>
          <th scope="col" class="num">failed</th><th scope="col">failure rate</th><th scope="col" class="num">p50</th><th scope="col">p95</th></tr></thead>
        <tbody>
          ${rows.map((r) => html`
            <tr key=${`${r.workspace}/${r.method}/${r.name}`}>
              <td>${r.workspace}</td><td>${r.method}</td><td>${r.name ?? ''}</td><td class="num">${r.count}</td><td class="num">${r.errors}</td>
              <td class="barcell"><${Bar} value=${r.errorRate} max=${1} kind="bad" /> ${(100 * r.errorRate).toFixed(0)} %</td>
              <td class="num">${ms(r.p50Ms)}</td>
              <td class="barcell"><${Bar} value=${r.p95Ms} max=${maxP95} kind="ok" /> ${ms(r.p95Ms)}</td>
            </tr>`)}
        </tbody>
      </table>
      ${rows.length === 0 && !error ? html`<p class="empty">No calls recorded yet.</p>` : ''}
    </div>`;
}

function Requests({ id, workspaces, version }) {
  const [filter, setFilter] = useState({ method: '', name: '', outcome: '' });
  const [entries, setEntries] = useState([]);
  const [error, setError] = useState(null);
  const query = useMemo(() => {
    const params = new URLSearchParams({ limit: String(REQUEST_LIMIT) });
    for (const [key, value] of Object.entries(filter)) if (value) params.set(key, value);
    return params.toString();
  }, [filter]);
  usePoll(async (current) => {
    if (logOff) return;
    try {
      const body = await rest(`${workspacePath(id, '/requests')}?${query}`);
      if (current()) {
        setEntries(body.entries);
        setError(null);
      }
    } catch (err) {
      if (!current()) return;
      if (noRequestLog(err)) logOff = true;
      setError(err.message);
    }
  }, POLL_MS, [id, query, version]);
  const set = (key) => (e) => setFilter((f) => ({ ...f, [key]: e.currentTarget.value.trim() }));
  return html`
    <section class="card wide" id="requests" aria-labelledby="requests-title">
      <h2 id="requests-title">Requests: ${id}</h2>
      <form class="filters" onSubmit=${(e) => e.preventDefault()}>
        <label>method <select name="method" onChange=${set('method')} value=${filter.method}>
          ${['', 'tools/call', 'tools/list', 'initialize', 'resources/read', 'resources/list', 'prompts/get', 'prompts/list', 'ping']
            .map((m) => html`<option value=${m}>${m || 'any'}</option>`)}
        </select></label>
        <label>name <input name="name" placeholder="tool, prompt or URI" onChange=${set('name')} /></label>
        <label>outcome <select name="outcome" onChange=${set('outcome')} value=${filter.outcome}>
          ${['', 'ok', 'error', 'cancelled'].map((o) => html`<option value=${o}>${o || 'any'}</option>`)}
        </select></label>
        <span class="count">${entries.length} newest${entries.length === REQUEST_LIMIT ? ' (limit)' : ''}</span>
      </form>
      ${error ? html`<p class="error" role="alert">${error}</p>` : ''}
      <div class="charts">
        <figure><figcaption>Duration of each call</figcaption><${LatencyChart} entries=${entries} /></figure>
        <figure><figcaption>Failed calls per minute</figcaption><${ErrorRateChart} entries=${entries} /></figure>
      </div>
      <div class="table-scroll">
        <table id="request-table">
          <thead><tr><th scope="col">time</th><th scope="col">method</th><th scope="col">name</th><th scope="col">outcome</th>
            <th scope="col" class="num">duration</th><th scope="col" class="num">queued</th><th scope="col" class="num">bytes in / out</th>
            <th scope="col">session</th><th scope="col">principal</th></tr></thead>
          <tbody>
            ${entries.map((e) => html`
              <tr key=${e.id} data-outcome=${e.outcome}>
                <td><time>${time(e.at)}</time></td>
                <td data-field="method">${e.method}</td>
                <td data-field="name">${e.name ?? ''}</td>
                <td data-field="outcome" class=${e.outcome === 'ok' ? '' : 'bad'}>${e.outcome}${e.errorCode ? ` (${e.errorCode})` : ''}</td>
                <td class="num">${ms(e.durationMs)}</td>
                <td class="num">${ms(e.queueMs)}</td>
                <td class="num">${e.requestBytes} / ${e.responseBytes}</td>
                <td class="mono">${e.session ? e.session.slice(0, 8) : ''}</td>
                <td>${e.principal ?? ''}</td>
              </tr>`)}
          </tbody>
        </table>
      </div>
      ${entries.length === 0 && !error ? html`<p class="empty">No matching calls.</p>` : ''}
      <${Stats} workspaces=${workspaces} version=${version} />
    </section>`;
}

// ---- the page ----

function App() {
  const [workspaces, setWorkspaces] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [focus, setFocus] = useState(null);
  const [events, setEvents] = useState([]);
  const [connected, setConnected] = useState(false);
  const [pending, setPending] = useState({});
  const [notice, setNotice] = useState(null);
  // Bumped after a call or action, so the request views refresh at once.
  const [version, setVersion] = useState(0);
  const bump = useCallback(() => setVersion((v) => v + 1), []);

  // Refreshes overlap (the poll, each event): only a newer one's answer is shown.
  const asked = useRef(0);
  const shown = useRef(0);
  const refresh = useCallback(async () => {
    const ask = ++asked.current;
    try {
      const body = await rest('workspaces');
      if (ask < shown.current) return;
      shown.current = ask;
      setWorkspaces(body.workspaces);
      setLoadError(null);
      setFocus((f) => (f && body.workspaces.some((w) => w.id === f) ? f : (body.workspaces[0]?.id ?? null)));
    } catch (err) {
      setLoadError(err.message);
    }
  }, []);
  usePoll(refresh, POLL_MS, []);

  useEffect(() => {
    const source = new EventSource(api('events'), { withCredentials: false });
    source.onopen = () => setConnected(true);
    source.onerror = () => setConnected(false);
    source.onmessage = (message) => {
      const event = JSON.parse(message.data);
      setEvents((all) => [event, ...all].slice(0, MAX_EVENTS));
      refresh();
    };
    return () => source.close();
  }, []);

  const act = useCallback(async (id, action) => {
    setPending((p) => ({ ...p, [id]: action }));
    setNotice(null);
    try {
      await rest(workspacePath(id, `/${action}`), { method: 'POST' });
    } catch (err) {
      setNotice(`${action} ${id}: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    } finally {
      setPending(({ [id]: _done, ...others }) => others);
      refresh();
      bump();
    }
  }, []);

  const ids = workspaces?.map((w) => w.id) ?? [];
  return html`
    <header>
      <h1>fastmcp-bridge <span>dashboard</span></h1>
      ${ids.length ? html`
        <label class="focus">workspace
          <select value=${focus ?? ''} onChange=${(e) => setFocus(e.currentTarget.value)} aria-label="focused workspace">
            ${ids.map((id) => html`<option value=${id}>${id}</option>`)}
          </select>
        </label>` : ''}
    </header>
    <main>
      ${loadError ? html`<p class="error wide" role="alert">Cannot read the workspaces: ${loadError}</p>` : ''}
      ${notice ? html`<p class="error wide" role="alert">${notice}</p>` : ''}
      ${workspaces === null ? html`<p class="empty wide">Loading…</p>` : html`
        <${Workspaces} workspaces=${workspaces} focus=${focus} onFocus=${setFocus} onAction=${act} pending=${pending} />
        <${Events} events=${events} connected=${connected} />
        ${focus ? html`
          <${Logs} key=${`logs-${focus}`} id=${focus} />
          <${ToolConsole} key=${`console-${focus}`} id=${focus} onCalled=${bump} />
          <${Requests} key=${`requests-${focus}`} id=${focus} workspaces=${workspaces} version=${version} />` : ''}`}
    </main>`;
}

const root = document.getElementById('app');
root.textContent = '';
render(html`<${App} />`, root);
