// nfc_ref.mjs IN OUT — ICU's NFC (String.prototype.normalize) of each NUL-separated string of IN, written to OUT.
import { readFileSync, writeFileSync } from "node:fs";
const strings = readFileSync(process.argv[2]).toString("utf8").split("\0");
writeFileSync(process.argv[3], strings.map((s) => s.normalize("NFC")).join("\0"));
