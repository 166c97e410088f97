// One measurement in a process of its own, so that its CPU time is the
// client's alone: node bench/client.js '<json spec>' prints one JSON line.
//
// spec: { client: 'bridge' | 'sdk' | 'undici', python, dir,
//         latency: { warmup, calls } | null,            // concurrency 1
//         throughput: { concurrency, warmupMs, ms } | null }
//
// The hub (or the bare server) is this process's child in every case: the
// Bridge spawns it itself, for the others this script spawns it the same
// way. Child CPU is not in process.cpuUsage(), so client CPU excludes it;
// the server's CPU is read from /proc/<pid>/stat.
import { bridgeClient, sdkClient, undiciClient } from './lib/clients.js';
import { childPids, processCpuMs, startHub } from './lib/hub.js';

const spec = JSON.parse(process.argv[2]);
const concurrency = spec.throughput?.concurrency ?? 1;

function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function latencyPhase(client, { warmup, calls }, serverPid) {
  for (let i = 0; i < warmup; i++) await client.call(`w${i}`);
  const samples = new Float64Array(calls);
  const cpu0 = cpuMs();
  const server0 = processCpuMs(serverPid);
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) {
    const text = `l${i}`;
    const start = performance.now();
    const got = await client.call(text);
    samples[i] = performance.now() - start;
    if (got !== text) throw new Error(`echo mismatch: sent ${text}, got ${got}`);
  }
  const elapsed = performance.now() - t0;
  const clientCpu = cpuMs() - cpu0;
  const serverCpu = processCpuMs(serverPid) - server0;
  samples.sort();
  return {
    calls,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    callsPerSec: (calls * 1000) / elapsed,
    clientCpuPerCallMs: clientCpu / calls,
    serverCpuPerCallMs: serverCpu / calls,
  };
}

/** `concurrency` loops calling back to back for `ms`; counts every completed call. */
async function loadFor(client, concurrency, ms) {
  const end = performance.now() + ms;
  let calls = 0;
  let errors = 0;
  let firstError;
  const worker = async (w) => {
    let i = 0;
    while (performance.now() < end) {
      const text = `t${w}.${i++}`;
      try {
        const got = await client.call(text);
        if (got !== text) throw new Error(`echo mismatch: sent ${text}, got ${got}`);
        calls++;
      } catch (err) {
        errors++;
        firstError ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, w) => worker(w)));
  return { calls, errors, firstError };
}

async function throughputPhase(client, { concurrency, warmupMs, ms }, serverPid) {
  await loadFor(client, concurrency, warmupMs);
  const cpu0 = cpuMs();
  const server0 = processCpuMs(serverPid);
  const t0 = performance.now();
  const { calls, errors, firstError } = await loadFor(client, concurrency, ms);
  const elapsed = performance.now() - t0; // includes the drain of the last calls
  const clientCpu = cpuMs() - cpu0;
  const serverCpu = processCpuMs(serverPid) - server0;
  return {
    concurrency,
    calls,
    errors,
    firstError: firstError && String(firstError.message ?? firstError),
    callsPerSec: (calls * 1000) / elapsed,
    clientCpuPerCallMs: clientCpu / calls,
    serverCpuPerCallMs: serverCpu / calls,
  };
}

async function main() {
  let hub;
  let client;
  let serverPid;
  if (spec.client === 'bridge') {
    client = bridgeClient({ dir: spec.dir, python: spec.python, concurrency });
    await client.open();
    const children = childPids();
    if (children.length !== 1) throw new Error(`expected one hub process, found ${children.length}`);
    [serverPid] = children;
  } else {
    hub = await startHub(spec.python, spec.dir);
    serverPid = hub.pid;
    const make = spec.client === 'sdk' ? sdkClient : undiciClient;
    client = make({ url: hub.url, concurrency });
    await client.open();
  }
  const out = { client: spec.client };
  try {
    if (spec.latency) out.latency = await latencyPhase(client, spec.latency, serverPid);
    if (spec.throughput) out.throughput = await throughputPhase(client, spec.throughput, serverPid);
  } finally {
    await client.close();
    await hub?.stop();
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err?.stack ?? err);
    process.exit(1);
  },
);
