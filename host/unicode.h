// unicode.h — the Unicode facts the tokenizer needs: UTF-8 decoding, General Category L/N and White_Space
// flags (tables generated at build time from the UCD by host/gen_unicode.sh), and NFC normalisation.
// defines: utf8_decode, utf8_encode, uc_flags, UC_LETTER, UC_NUMBER, UC_SPACE, uc_nfc
#pragma once
#include <stddef.h>
#include <stdint.h>

enum { UC_LETTER = 1, UC_NUMBER = 2, UC_SPACE = 4 };

// Length (1..4) of the valid UTF-8 sequence at s[0..n) and its code point in *cp; 0 if invalid (overlong,
// surrogate, above U+10FFFF, truncated).
int utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
int utf8_encode(uint32_t cp, char *out);   // writes 1..4 bytes
unsigned uc_flags(uint32_t cp);            // UC_* bits; 0 for anything else (and for cp > U+10FFFF)
// NFC of valid UTF-8 s[0..n): returns NULL when s is already in NFC (the common case, checked quickly),
// else a malloc'd normalised copy with its length in *out_n.
char *uc_nfc(const char *s, size_t n, size_t *out_n);
