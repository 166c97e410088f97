// Every call settles exactly once while the real lab workspace process is
// SIGKILLed every 500 settled calls: the short form of tests/chaos.js (long
// form: `node tests/chaos.js --calls 10000`).
import assert from 'node:assert/strict';
import { it } from 'node:test';

import { runChaos } from './chaos.js';

it('every call settles exactly once while the process is killed every 500 settled calls', { timeout: 180_000 }, async () => {
  const report = await runChaos({ calls: 2000, concurrency: 64, killEveryCalls: 500 });
  assert.equal(report.settledTwice, 0);
  assert.deepEqual(report.unknownErrors, []);
  assert.ok(report.kills >= 1, JSON.stringify(report));
  assert.ok(report.ok > 0, JSON.stringify(report));
  assert.equal(report.ok + Object.values(report.errors).reduce((a, b) => a + b, 0), 2000);
  assert.equal(report.inFlight, 0);
  assert.equal(report.queued, 0);
  assert.deepEqual(report.leftover, []);
});
