// The request log's charts, drawn with uPlot: the latency of recent calls
// over time (ok and failed calls apart), and the share of failed calls per
// minute.
import { html, useEffect, useRef } from './vendor/preact-htm.js';
import uPlot from './vendor/uPlot.esm.js';

const HEIGHT = 200;
const OK = '#2563eb';
const ERROR = '#dc2626';

/**
 * A uPlot chart that fills its container's width; `data` is uPlot's aligned
 * columns, with times (s) first. The time axis spans at least `minSpan`
 * seconds and ends a little after the newest point (set after each update:
 * uPlot's own range for a single point spans years).
 */
function Plot({ options, data, label, minSpan }) {
  const box = useRef(null);
  const plot = useRef(null);
  const fit = (u) => {
    const times = u.data[0];
    const max = times.length ? times[times.length - 1] : Date.now() / 1000;
    const span = Math.max(times.length ? max - times[0] : 0, minSpan);
    u.setScale('x', { min: max - span * 1.02, max: max + span * 0.02 });
  };
  useEffect(() => {
    const element = box.current;
    plot.current = new uPlot({ ...options, width: element.clientWidth || 400, height: HEIGHT }, data, element);
    fit(plot.current);
    const resize = new ResizeObserver(() => plot.current.setSize({ width: element.clientWidth, height: HEIGHT }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current.destroy();
    };
  }, []);
  useEffect(() => {
    if (!plot.current) return;
    plot.current.setData(data);
    fit(plot.current);
  }, [data]);
  return html`<div class="chart" ref=${box} role="img" aria-label=${label}></div>`;
}

const points = (color) => ({
  stroke: color,
  width: 0,
  paths: () => null,
  points: { show: true, size: 6, stroke: color, fill: color },
});

const LATENCY_OPTIONS = {
  legend: { live: true },
  cursor: { points: { size: 8 } },
  scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
  series: [
    {},
    { label: 'ok (ms)', ...points(OK), value: (_u, v) => (v == null ? '–' : `${v.toFixed(1)} ms`) },
    { label: 'failed (ms)', ...points(ERROR), value: (_u, v) => (v == null ? '–' : `${v.toFixed(1)} ms`) },
  ],
  axes: [{}, { label: 'duration (ms)', size: 60 }],
};

/** Durations of `entries` (request log entries, any order) by the time of their call. */
export function LatencyChart({ entries }) {
  const sorted = [...entries].sort((a, b) => a.at - b.at);
  const data = [
    sorted.map((e) => e.at / 1000),
    sorted.map((e) => (e.outcome === 'ok' ? e.durationMs : null)),
    sorted.map((e) => (e.outcome === 'ok' ? null : e.durationMs)),
  ];
  return html`<${Plot} options=${LATENCY_OPTIONS} data=${data} label="duration of recent calls over time" minSpan=${60} />`;
}

const ERROR_RATE_OPTIONS = {
  scales: { x: { time: true }, y: { range: [0, 100] }, n: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
  series: [
    {},
    {
      label: 'failed (%)',
      stroke: ERROR,
      fill: 'rgba(220, 38, 38, 0.12)',
      width: 2,
      points: { show: true, size: 6, fill: ERROR },
      value: (_u, v) => (v == null ? '–' : `${v.toFixed(0)} %`),
    },
    { label: 'calls', scale: 'n', stroke: '#64748b', width: 1, dash: [4, 4], points: { show: true, size: 5 } },
  ],
  axes: [{}, { label: 'failed (%)', size: 60 }, { scale: 'n', side: 1, label: 'calls', grid: { show: false } }],
};

/** The share of failed calls among `entries`, per minute. */
export function ErrorRateChart({ entries }) {
  const minutes = new Map();
  for (const entry of entries) {
    const minute = Math.floor(entry.at / 60_000) * 60;
    const bucket = minutes.get(minute) ?? { calls: 0, failed: 0 };
    bucket.calls += 1;
    if (entry.outcome !== 'ok') bucket.failed += 1;
    minutes.set(minute, bucket);
  }
  const keys = [...minutes.keys()].sort((a, b) => a - b);
  const data = [
    keys,
    keys.map((k) => (100 * minutes.get(k).failed) / minutes.get(k).calls),
    keys.map((k) => minutes.get(k).calls),
  ];
  return html`<${Plot} options=${ERROR_RATE_OPTIONS} data=${data} label="share of failed calls per minute" minSpan=${600} />`;
}
