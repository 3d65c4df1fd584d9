// tokenizer_corpus.mjs SEED OUT — writes the tokenizer comparison corpus to OUT: strings separated by NUL bytes.
// Hand-picked hard cases first, then >= 2,000 strings from a seeded generator (mulberry32; the seed is printed
// by the caller), then a few 100 KB inputs. Characters come from blocks fully assigned since Unicode <= 6, so
// the JS reference (Node's ICU, newer Unicode) and our tables (Debian's UCD 15.0) agree on every class; U+0085
// and U+FEFF are left out because JavaScript's \s disagrees with Unicode White_Space on exactly those two.
import { writeFileSync } from "node:fs";

const seed = Number(process.argv[2] ?? 1) >>> 0;
const out = process.argv[3];
let state = seed;
function rand() {  // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const range = (lo, hi) => String.fromCodePoint(lo + Math.floor(rand() * (hi - lo + 1)));

const hand = [
    "", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r\n\r\n", " \n \n ", "\t\t\n", "a\r\nb\rc\nd", "   leading", "trailing   ",
    "Hello world", " Hello world", "Hello, world!", "It's he'll we're they've I'm you'd don't", "IT'S HE'LL WE'RE 'S 'LL 'Ve 'rE",
    "'s's's 'll'll", "rock'n'roll", "''''", "'", "' ", "\"quoted\" 'single'", "o'clock 123'456",
    "1234567890", "3.14159 2,718 1e-9 0x1F", "١٢٣٤٥ ٠", "１２３ ＡＢＣ", "Ⅷ ⅻ ½ ¾ ²³", "v1.2.3-rc.4+build.5",
    "中文测试，你好世界。", "日本語のテキスト、カタカナとひらがな。", "한국어 텍스트입니다", "العربية: مرحبا بالعالم",
    "हिन्दी पाठ नमस्ते दुनिया", "ภาษาไทย สวัสดีชาวโลก", "Русский текст, ёжик", "Ελληνικά κείμενα ΑΒΓ", "עברית שלום",
    "emoji 😀😃😄 👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 🇫🇷🇯🇵 ❤️ ✨", "👩🏾‍💻 and 🧑‍🤝‍🧑", "\u200d\u200d", "zero\u200bwidth",
    "int main(void) {\n    return 0;\n}\n", "def f(x):\n\treturn x**2  # comment\n", "for (i = 0; i < n; ++i) { a[i] = b[i] * c; }",
    "<div class=\"x\">&amp;</div>", "SELECT * FROM t WHERE id = 42;", "https://example.com/path?q=1&r=2#frag",
    "$ ls -la | grep '\\.c$' > out.txt", "{\"key\": [1, 2, {\"nested\": null}]}", "a\\nb\\tc", "C:\\Users\\name",
    "<|im_start|>", "<|im_start", "im_start|>", "<|im_start|>user\nHello<|im_end|>\n", "<|endoftext|><|endoftext|>",
    "<think>\nreasoning\n</think>\n\nanswer", "<tool_call>\n{\"name\": \"f\"}\n</tool_call>", "< |im_start| >", "<<|im_end|>>",
    "<|fim_prefix|>code<|fim_suffix|>more<|fim_middle|>", "<|im_start|<|im_end|>", "</think", "<think >",
    "e\u0301 a\u0308 n\u0303 (decomposed)", "\u212b \u2126 \uf900", "\u1100\u1161\u11a8", "a\u0323\u0307 a\u0307\u0323", "\u0301start",
    "\u00a0nbsp\u00a0 \u3000ideographic\u3000 thin\u2009space", "tabs\t\tand  spaces   mixed \t \n", "line\u2028sep\u2029para",
    "   \n\n\n   x", "x   \n", "!!!???...", " !!! ", "...\n\n", "--\r\n--", "a-b_c.d,e;f:g", "((((", "))))",
    "ÀÉÎÕÜ àéîõü ß ÿ", "ﬁ ﬂ ﬀ", "ǅ ǈ ǋ", "Ⓐ ⓐ", "𝐀𝐁𝐂 𝟏𝟐𝟑", "☃ ★ ♠ ♥", "→ ⇒ ∀x∈ℝ: x² ≥ 0",
];

const blocks = [
    [0x4e00, 0x9fa5], [0xac00, 0xd7a3], [0x3041, 0x3096], [0x30a1, 0x30fa], [0x0410, 0x044f], [0x0391, 0x03a1],
    [0x03b1, 0x03c9], [0x0621, 0x064a], [0x0660, 0x0669], [0x0905, 0x0939], [0x093e, 0x094c], [0x0e01, 0x0e3a],
    [0x05d0, 0x05ea], [0x00c0, 0x00ff], [0x0100, 0x017f], [0x2010, 0x2027], [0x2200, 0x22ff], [0x2190, 0x21ff],
    [0x2500, 0x257f], [0x1f600, 0x1f64f], [0x1f300, 0x1f5ff], [0x0300, 0x036f], [0xff01, 0xff5e], [0x2070, 0x2079],
    [0x2150, 0x2182], [0x0021, 0x007e], [0x0021, 0x007e], [0x0061, 0x007a],
];
const spaces = [" ", " ", " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", "\r", " \n", "\u00a0", "\u3000", "\u2009", "\u2028"];
const words = ["the", "The", "THE", "hello", "world", "token", "izer", "Qwen", "GPU", "it's", "we'll", "you're", "'s", "'LL",
    "don't", "x", "foo_bar", "fooBar", "i++", "==", "->", "::", "//", "/*", "*/", "0", "42", "2024", "3.14", "1,000,000",
    "<|im_start|>", "<|im_end|>", "<|im_start", "|>", "<think>", "</think>", "<tool_call>", "<|endoftext|>", "<|", "😀",
    "👨‍👩‍👧", "🇺🇸", "👍🏻", "中文", "日本", "한국", "مرحبا", "नमस्ते", "สวัสดี", "привет", "γειά", "é", "e\u0301", "ﬁ"];

function randomString() {
    const parts = [], n = 1 + Math.floor(rand() * 24);
    for (let i = 0; i < n; i++) {
        const r = rand();
        if (r < 0.35) parts.push(pick(words));
        else if (r < 0.6) parts.push(pick(spaces));
        else if (r < 0.75) { let d = ""; const k = 1 + Math.floor(rand() * 12); for (let j = 0; j < k; j++) d += range(0x30, 0x39); parts.push(d); }
        else { const b = pick(blocks); let s = ""; const k = 1 + Math.floor(rand() * 8); for (let j = 0; j < k; j++) s += range(b[0], b[1]); parts.push(s); }
    }
    return parts.join("");
}

const corpus = [...hand];
while (corpus.length < hand.length + 2200) corpus.push(randomString());
for (let i = 0; i < 3; i++) {  // long inputs, ~100 KB each
    let s = "";
    while (s.length < 100000) s += randomString() + pick(spaces);
    corpus.push(s);
}
corpus.push("中文".repeat(20000));          // one 120 KB word (a single \p{L}+ run) for the BPE heap
corpus.push("a".repeat(50000) + " " + "1".repeat(1000) + "\n".repeat(1000) + " ".repeat(1000) + "!".repeat(1000));
for (const s of corpus) if (s.includes("\0")) throw new Error("NUL in corpus");
writeFileSync(out, corpus.join("\0"));
console.error(`corpus: ${corpus.length} strings (${hand.length} hand-picked), seed ${seed}`);
