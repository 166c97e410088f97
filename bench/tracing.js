// What tracing costs bridge.call(), thread by thread:
// node bench/tracing.js [--rounds N] [--ms MS] [--concurrency C]
//
// bridge.call() against the bare echo server (bench/bare-hub), as
// bench/request_log.js runs it (fresh processes, rotating order, medians),
// with the app's OpenTelemetry set up four ways:
// - `no API`: `@opentelemetry/api` not installed (hidden from resolution by
//   bench/lib/without-otel-api.cjs): tracing.js does nothing;
// - `API, no SDK`: the API installed, no SDK registered: one no-op span per
//   call;
// - `SDK, not sampled`: the Node SDK registered with the AlwaysOff sampler:
//   spans are not recorded, but their context is injected into params._meta;
// - `SDK, recording`: the Node SDK recording every span through a
//   BatchSpanProcessor into an exporter that drops them.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { bridgeClient } from './lib/clients.js';
import { variantBench } from './lib/variants.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/** A span exporter that drops what it is given. */
const dropping = {
  export: (_spans, done) => done({ code: 0 }),
  shutdown: async () => {},
};

variantBench({
  script: fileURLToPath(import.meta.url),
  title: 'bridge.call() against the bare echo server, by how the app set OpenTelemetry up',
  variants: ['no API', 'API, no SDK', 'SDK, not sampled', 'SDK, recording'],
  nodeArgs: (variant) => (variant === 'no API' ? ['--require', path.join(here, 'lib', 'without-otel-api.cjs')] : []),
  group: (pid, tid, name) => {
    if (tid === pid) return 'main thread (JS, N-API)';
    if (name.startsWith('tokio')) return 'tokio worker';
    return 'other threads (V8, libuv)';
  },
  async open(variant, { concurrency }) {
    let provider;
    if (variant.startsWith('SDK')) {
      // Imported here: they need the API, which the `no API` variant hides.
      const { AlwaysOffSampler, BatchSpanProcessor } = await import('@opentelemetry/sdk-trace-base');
      const { NodeTracerProvider } = await import('@opentelemetry/sdk-trace-node');
      provider = variant === 'SDK, not sampled'
        ? new NodeTracerProvider({ sampler: new AlwaysOffSampler() })
        : new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(dropping)] });
      provider.register();
    }
    const client = bridgeClient({ dir: path.join(here, 'echo-workspace'), python: path.join(here, 'bare-hub'), concurrency });
    await client.open();
    return { client, close: () => provider?.shutdown() };
  },
});
