'use strict';
// Loads the native addon for this platform, in the napi-rs convention: a
// local build beside this file (`npm run build`), else the per-platform
// package `fastmcp-bridge-<platform>-<arch>[-<libc>]` from `npm/`.

function libcSuffix() {
  if (process.platform !== 'linux') return '';
  const report = process.report?.getReport?.();
  const glibc = report && report.header && report.header.glibcVersionRuntime;
  return glibc ? '-gnu' : '-musl';
}

const triple = `${process.platform}-${process.arch}${libcSuffix()}`;
const candidates = [`./fastmcp-bridge.${triple}.node`, `fastmcp-bridge-${triple}`];
const failures = [];
let binding;
for (const candidate of candidates) {
  try {
    binding = require(candidate);
    break;
  } catch (err) {
    if (err && err.code !== 'MODULE_NOT_FOUND') throw err;
    failures.push(candidate);
  }
}
if (!binding) {
  throw new Error(
    `fastmcp-bridge: no native addon for ${triple} (tried ${failures.join(', ')}). ` +
      'Build it with `npm run build` (needs a Rust toolchain) or install the package for your platform.',
  );
}
module.exports = binding;
