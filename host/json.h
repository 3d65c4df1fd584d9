// json.h — a small strict JSON parser (RFC 8259) into a tree, and a string escaper for writing JSON.
// defines: JsonValue, json_parse, json_get, json_free, json_escape, json_write
#pragma once
#include <stddef.h>
#include "util.h"

typedef enum { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT } JsonType;

typedef struct JsonValue JsonValue;
struct JsonValue {
    JsonType type;
    int boolean;
    double number;
    char *str; size_t str_len;   // STRING: decoded UTF-8 (may contain NUL), NUL-terminated
    JsonValue *items; size_t n;  // ARRAY: n items; OBJECT: n values
    char **keys; size_t *key_lens;  // OBJECT: n keys (decoded, NUL-terminated)
};

// Parses text[0..len). Returns NULL on error and writes "line L col C: what" into err.
// Depth is limited (256) so hostile input cannot blow the stack.
JsonValue *json_parse(const char *text, size_t len, char *err, size_t errlen);
void json_free(JsonValue *v);
const JsonValue *json_get(const JsonValue *obj, const char *key);   // NULL if absent or obj not an object
// Appends s[0..n) JSON-escaped (with quotes) to a growable buffer *buf of *cap bytes holding *len.
void json_escape(char **buf, size_t *len, size_t *cap, const char *s, size_t n);
// Appends v as JSON text the way Jinja's tojson (and JSON.stringify) prints it: ", " and ": " separators, key
// order kept, numbers in JavaScript's shortest round-trip form (1e-7, 0.1, 100), NaN/Inf as null.
void json_write(StrBuf *b, const JsonValue *v);
