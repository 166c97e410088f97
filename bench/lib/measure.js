// The timed phases every measurement script shares: latency at concurrency
// 1, throughput at concurrency C for a fixed time, echo payload sweep. A
// client is `{ call(text) -> echoed text }`; `serverCpuMs()` returns the
// server's cumulative CPU time (ms), read before and after a phase.

function cpuMs() {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export async function latencyPhase(client, { warmup, calls }, serverCpuMs = () => 0) {
  for (let i = 0; i < warmup; i++) await client.call(`w${i}`);
  const samples = new Float64Array(calls);
  const cpu0 = cpuMs();
  const server0 = serverCpuMs();
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
  const serverCpu = serverCpuMs() - server0;
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
export async function loadFor(client, concurrency, ms) {
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

export async function throughputPhase(client, { concurrency, warmupMs, ms }, serverCpuMs = () => 0) {
  await loadFor(client, concurrency, warmupMs);
  const cpu0 = cpuMs();
  const server0 = serverCpuMs();
  const t0 = performance.now();
  const { calls, errors, firstError } = await loadFor(client, concurrency, ms);
  const elapsed = performance.now() - t0; // includes the drain of the last calls
  const clientCpu = cpuMs() - cpu0;
  const serverCpu = serverCpuMs() - server0;
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

/**
 * Echo calls of `size` bytes of text, one after another: p50 per call and
 * payload MB/s (the bytes sent per call over the time per call; the answer
 * carries them back too).
 */
export async function payloadPhase(client, { sizes, warmup }) {
  const out = [];
  for (const { size, calls } of sizes) {
    const text = 'x'.repeat(size);
    try {
      for (let i = 0; i < warmup; i++) await client.call(text);
    } catch (err) {
      // A size the path refuses is a result too; smaller ones still count.
      out.push({ size, calls: 0, error: String(err?.code ?? '') + ' ' + String(err?.message ?? err).slice(0, 300) });
      continue;
    }
    const samples = new Float64Array(calls);
    const t0 = performance.now();
    for (let i = 0; i < calls; i++) {
      const start = performance.now();
      const got = await client.call(text);
      samples[i] = performance.now() - start;
      if (got !== text) throw new Error(`echo mismatch at ${size} bytes: got ${got.length} bytes back`);
    }
    const elapsed = performance.now() - t0;
    samples.sort();
    const p50Ms = percentile(samples, 50);
    out.push({ size, calls, p50Ms, mbPerSec: size / 1e6 / (p50Ms / 1000), meanMbPerSec: (size * calls) / 1e6 / (elapsed / 1000) });
  }
  return out;
}

