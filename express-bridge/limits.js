// Per-principal limits on the MCP endpoint's POSTed requests: requests per
// second (express-rate-limit, a fixed one-second window) and requests in
// flight. Both answer 429 RATE_LIMITED with Retry-After.
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';

import { RouterError } from './errors.js';

/**
 * The default key of a request's limits: its principal (`req.auth`, set by
 * `authenticate`) when that is a string or a number, else its peer address
 * (an IPv6 one by its /56, as express-rate-limit advises), `local` for a
 * Unix socket.
 * @param {import('express').Request} req
 * @returns {string}
 */
export function principalKey(req) {
  const principal = req.auth;
  if (typeof principal === 'string' || typeof principal === 'number') return `principal:${principal}`;
  const address = req.socket.remoteAddress;
  return address === undefined ? 'peer:local' : `peer:${ipKeyGenerator(address)}`;
}

/**
 * The request log's `principal` of a call (a call option of the bridge):
 * `req.auth` when it is a string or a number.
 * @param {import('express').Request} req
 * @returns {{ principal?: string }}
 */
export function principalOption(req) {
  const principal = req.auth;
  return typeof principal === 'string' || typeof principal === 'number' ? { principal: String(principal) } : {};
}

/**
 * The limits' middlewares, to run after authentication, in order: requests
 * per second, then requests in flight. Empty when neither is set.
 * @param {{ requestsPerSecond?: number, concurrentRequests?: number, key?: (req: import('express').Request) => string }} limits
 * @returns {import('express').RequestHandler[]}
 */
export function principalLimits({ requestsPerSecond, concurrentRequests, key = principalKey } = {}) {
  const handlers = [];
  if (requestsPerSecond !== undefined) {
    handlers.push(
      rateLimit({
        windowMs: 1000,
        limit: requestsPerSecond,
        keyGenerator: key,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        // The key is the principal's or the peer's as this module says.
        validate: { keyGeneratorIpFallback: false },
        handler: (_req, _res, next) =>
          next(new RouterError('RATE_LIMITED', `more than ${requestsPerSecond} requests per second`, { details: { requestsPerSecond } })),
      }),
    );
  }
  if (concurrentRequests !== undefined) {
    const inFlight = new Map();
    handlers.push((req, res, next) => {
      const k = key(req);
      const count = inFlight.get(k) ?? 0;
      if (count >= concurrentRequests) {
        res.set('Retry-After', '1');
        return next(new RouterError('RATE_LIMITED', `more than ${concurrentRequests} requests in flight`, { details: { concurrentRequests } }));
      }
      inFlight.set(k, count + 1);
      res.once('close', () => {
        const left = inFlight.get(k) - 1;
        if (left > 0) inFlight.set(k, left);
        else inFlight.delete(k);
      });
      next();
    });
  }
  return handlers;
}
