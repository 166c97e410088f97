// Cleans the typings `napi build` generates (native.d.ts): napi-derive
// 3.7 writes a doc comment that reached it through a `macro_rules!` macro
// (the option structs of crates/bridge-node/src/options.rs) as the raw
// string token it became, `r" text`; this drops the `r"`.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'native.d.ts');
const text = readFileSync(file, 'utf8');
const cleaned = text.replace(/(\/\*\*|^\s*\*) r" ?/gm, '$1 ');
if (cleaned !== text) writeFileSync(file, cleaned);
