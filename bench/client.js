// One measurement in a process of its own, so that its CPU time is the
// client's alone: node bench/client.js '<json spec>' prints one JSON line.
//
// spec: { client: 'bridge' | 'sdk' | 'undici', python, dir,
//         workspace, bridgeOptions,                     // bridge only: extra options
//         latency: { warmup, calls } | null,            // concurrency 1
//         throughput: { concurrency, warmupMs, ms } | null,
//         payload: { sizes: [{ size, calls }], warmup } | null }  // concurrency 1
//
// The hub (or the bare server) is this process's child in every case: the
// Bridge spawns it itself, for the others this script spawns it the same
// way. Child CPU is not in process.cpuUsage(), so client CPU excludes it;
// the server's CPU is read from /proc/<pid>/stat.
import { bridgeClient, sdkClient, undiciClient } from './lib/clients.js';
import { childPids, processCpuMs, startHub } from './lib/hub.js';
import { latencyPhase, payloadPhase, throughputPhase } from './lib/measure.js';

const spec = JSON.parse(process.argv[2]);
const concurrency = spec.throughput?.concurrency ?? 1;

async function main() {
  let hub;
  let client;
  let serverPid;
  if (spec.client === 'bridge') {
    client = bridgeClient({
      dir: spec.dir,
      python: spec.python,
      concurrency,
      workspace: spec.workspace,
      bridgeOptions: spec.bridgeOptions,
    });
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
    const serverCpuMs = () => processCpuMs(serverPid);
    if (spec.latency) out.latency = await latencyPhase(client, spec.latency, serverCpuMs);
    if (spec.throughput) out.throughput = await throughputPhase(client, spec.throughput, serverCpuMs);
    if (spec.payload) out.payload = await payloadPhase(client, spec.payload);
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
