// Request bodies of the MCP endpoint as bytes, for `session.forward`: read
// with raw-body (the reader body-parser itself uses), with body-parser's
// limits, errors and clean-up, so that a body read here fails exactly as
// one read by `express.json()` would.
import contentType from 'content-type';
import onFinished from 'on-finished';
import getRawBody from 'raw-body';

import { RouterError } from './errors.js';

/**
 * Whether the body can be read as bytes here: a `Content-Length`, no
 * `Transfer-Encoding`, no content coding but `identity`, and UTF-8 or no
 * charset (JSON's default, RFC 8259). The rest (compressed, chunked, other
 * charsets) goes through `express.json()`, which inflates and decodes.
 * @param {import('node:http').IncomingMessage} req
 */
export function readsAsBytes(req) {
  const { headers } = req;
  if (headers['content-length'] === undefined || headers['transfer-encoding'] !== undefined) return false;
  const encoding = headers['content-encoding'];
  if (encoding !== undefined && encoding.toLowerCase() !== 'identity') return false;
  const type = headers['content-type'];
  if (type === undefined || !type.includes(';')) return true;
  try {
    const { charset } = contentType.parse(type).parameters;
    return charset === undefined || charset.toLowerCase() === 'utf-8';
  } catch {
    return false; // body-parser answers the malformed header
  }
}

/**
 * Reads the body, at most `limit` bytes. On failure (413 `entity.too.large`,
 * 400 `request.aborted` or `request.size.invalid`, as http-errors with
 * their `type`) it first reads off the rest of the request, as body-parser
 * does, so that the error response can be sent on a clean connection.
 * @param {import('node:http').IncomingMessage} req
 * @param {number} limit bytes
 * @param {(err: Error | null, body?: Buffer) => void} callback
 */
export function readBytes(req, limit, callback) {
  getRawBody(req, { length: req.headers['content-length'], limit }, (err, body) => {
    if (!err) return callback(null, body);
    const done = () => callback(err);
    if (onFinished.isFinished(req)) return done();
    onFinished(req, done);
    req.resume();
  });
}

/**
 * The JSON value of a body read as bytes, as `express.json({ strict: false })`
 * gives it: a leading byte order mark dropped, an empty body as `{}`.
 * @param {Buffer} body
 * @throws {RouterError} `PARSE_ERROR`
 */
export function parseBytes(body) {
  if (body.length === 0) return {};
  let text = body.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new RouterError('PARSE_ERROR', 'Parse error: body is not valid JSON', { cause: err });
  }
}
