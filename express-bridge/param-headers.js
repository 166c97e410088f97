// `Mcp-Param-*` headers of the sessionless revision, as a server checks them
// (MCP 2026-07-28, Basic / Transports / Streamable HTTP): a tool's input
// schema may mark a string, integer or boolean property, reached from the
// root through `properties` alone, with `"x-mcp-header": "<Token>"`; a
// `tools/call` of that tool mirrors the argument in the `Mcp-Param-<Token>`
// header, and a server rejects the call when header and argument disagree
// (`HeaderMismatch`, -32020), so that an intermediary may route on the
// header. The marks are learned from the workspace's `tools/list` results.
const ANNOTATION = 'x-mcp-header';
const PREFIX = 'mcp-param-';
const TYPES = new Set(['string', 'integer', 'boolean']);
/** RFC 9110, 5.6.2 token. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const CANONICAL_DECIMAL = /^-?[0-9]+(\.[0-9]+)?$/;
const MAX_DEPTH = 16;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A header value as the revision encodes text that is not printable ASCII:
 * `=?base64?<UTF-8 in base64>?=` (MCP 2026-07-28, Basic / Transports,
 * Streamable HTTP), decoded; other values as they are. `null` for a
 * malformed one (not canonical base64, or not UTF-8), which then matches
 * nothing.
 * @param {string | undefined} value
 * @returns {string | null | undefined}
 */
export function decodeHeaderValue(value) {
  const encoded = value === undefined ? null : /^=\?base64\?(.*)\?=$/.exec(value);
  if (!encoded) return value;
  const payload = encoded[1];
  const bytes = Buffer.from(payload, 'base64');
  if (bytes.toString('base64') !== payload) return null;
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/**
 * JSON Schema 2020-12 applicators whose values are schemas, by value shape
 * (`properties` apart, the one that keeps a property path). Instance data
 * (`default`, `const`, `enum`, `examples`) and `$ref` are not entered.
 */
const SUBSCHEMA_SINGLE = new Set(['items', 'contains', 'unevaluatedItems', 'additionalProperties', 'propertyNames', 'unevaluatedProperties', 'not', 'if', 'then', 'else', 'contentSchema']);
const SUBSCHEMA_LIST = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SUBSCHEMA_MAP = new Set(['patternProperties', 'dependentSchemas', '$defs', 'definitions']);

const isObject = (value) => value !== null && typeof value === 'object' && !Array.isArray(value);

/**
 * The marked properties of an input schema, `{ path, header, type }` with
 * `header` the lowercase header name; `null` when a mark is invalid (not a
 * token, on another type, at the root or anywhere off a chain of
 * `properties` from it, or a header named twice, case aside): then no
 * header is checked, as a conforming client sends none (as the MCP Python
 * SDK's `find_invalid_x_mcp_header`).
 * @param {unknown} schema
 * @returns {{ path: string[], header: string, type: string }[] | null}
 */
export function markedArguments(schema) {
  const marks = [];
  let valid = true;
  // `path`: the property names from the root, or null off a `properties` chain.
  const visit = (node, path, depth) => {
    if (!valid || !isObject(node) || depth > MAX_DEPTH) return;
    if (ANNOTATION in node) {
      const token = node[ANNOTATION];
      if (!path?.length || typeof token !== 'string' || !TOKEN.test(token) || !TYPES.has(node.type)) {
        valid = false;
        return;
      }
      marks.push({ path, header: `${PREFIX}${token.toLowerCase()}`, type: node.type });
    }
    for (const [keyword, value] of Object.entries(node)) {
      if (keyword === 'properties' && isObject(value)) {
        for (const [name, sub] of Object.entries(value)) visit(sub, path ? [...path, name] : null, depth + 1);
      } else if (SUBSCHEMA_SINGLE.has(keyword)) {
        visit(value, null, depth + 1);
      } else if (SUBSCHEMA_LIST.has(keyword) && Array.isArray(value)) {
        for (const sub of value) visit(sub, null, depth + 1);
      } else if (SUBSCHEMA_MAP.has(keyword) && isObject(value)) {
        for (const sub of Object.values(value)) visit(sub, null, depth + 1);
      }
    }
  };
  visit(schema, [], 0);
  if (!valid) return null;
  return new Set(marks.map((m) => m.header)).size === marks.length ? marks : null;
}

/** The marked arguments of the tools a workspace listed, by tool name. */
export class ToolMarks {
  /** @type {Map<string, { path: string[], header: string, type: string }[]>} */
  #tools = new Map();
  /** Whether a listing was learned from. */
  listed = false;

  /**
   * Learns from a `tools/list` result's JSON text; `firstPage`: the request
   * had no cursor (a first page without `nextCursor` is the whole listing,
   * which replaces what was known). Parsed only when it names a mark or may
   * drop one.
   */
  learn(text, firstPage) {
    const whole = firstPage && !text.includes('"nextCursor"');
    if (!text.includes(ANNOTATION) && (whole || this.#tools.size === 0)) {
      if (whole) this.#tools.clear();
      this.listed = true;
      return;
    }
    let tools;
    try {
      tools = JSON.parse(text).tools;
    } catch {
      return;
    }
    if (!Array.isArray(tools)) return;
    if (whole) this.#tools.clear();
    for (const tool of tools) {
      if (typeof tool?.name !== 'string') continue;
      const marks = markedArguments(tool.inputSchema);
      if (marks?.length) this.#tools.set(tool.name, marks);
      else this.#tools.delete(tool.name);
    }
    this.listed = true;
  }

  /** The marks of tool `name`, if any. */
  of(name) {
    return this.#tools.get(name);
  }
}

/** How the header mirrors an argument, or undefined for a value it cannot carry. */
function rendered(value) {
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function valueAt(args, path) {
  let node = args;
  for (const key of path) {
    if (node === null || typeof node !== 'object' || Array.isArray(node)) return undefined;
    node = node[key];
  }
  return node;
}

function matches(type, value, text, decoded) {
  // An integer compares as a number (`42` matches `42.0`) when the header is
  // a plain decimal.
  if (type === 'integer' && Number.isInteger(value) && CANONICAL_DECIMAL.test(decoded)) {
    const [whole, fraction = ''] = decoded.split('.');
    return /^0*$/.test(fraction) && BigInt(whole) === BigInt(value);
  }
  return decoded === text;
}

/**
 * Checks a `tools/call`'s `Mcp-Param-*` headers against its arguments:
 * each marked argument and its header are present together and agree, or
 * absent together (`null` counts as absent); a header comes once.
 * @param {{ path: string[], header: string, type: string }[]} marks
 * @param {unknown} args the call's `arguments`
 * @param {import('express').Request} req
 * @returns {string | null} why they disagree, or null
 */
export function paramHeaderMismatch(marks, args, req) {
  const counts = new Map();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i].toLowerCase();
    if (name.startsWith(PREFIX)) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  for (const { path, header, type } of marks) {
    const argument = path.join('.');
    const raw = req.headers[header];
    if ((counts.get(header) ?? 0) > 1) return `the ${header} header is given more than once`;
    const value = valueAt(args, path);
    const text = value === undefined || value === null ? undefined : rendered(value);
    if (text === undefined) {
      if (raw !== undefined) return `the ${header} header is given, but argument ${argument} is absent or not a string, number or boolean`;
      continue;
    }
    if (raw === undefined) return `the ${header} header is missing for argument ${argument}`;
    const decoded = decodeHeaderValue(raw);
    if (decoded === null || !matches(type, value, text, decoded)) return `the ${header} header does not match argument ${argument}`;
  }
  return null;
}
