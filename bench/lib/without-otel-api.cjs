// Preloaded (`node --require`) by bench/tracing.js for its `no API` variant:
// makes `@opentelemetry/api` unresolvable, as in an app that has not
// installed it, so fastmcp-bridge's tracing.js finds no API.
const Module = require('node:module');

const resolve = Module._resolveFilename;
Module._resolveFilename = function resolveWithoutOtelApi(request, ...rest) {
  if (request === '@opentelemetry/api') {
    const err = new Error(`Cannot find module '${request}' (hidden by the bench)`);
    err.code = 'MODULE_NOT_FOUND';
    throw err;
  }
  return resolve.call(this, request, ...rest);
};
