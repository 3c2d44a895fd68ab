/* One top-level field of a JSON object, as PostgreSQL's `payload::jsonb ->> field` reads it
 * (for partition keys): the same text, or "not found" where PostgreSQL would not give one. */
#ifndef CN_JSON_FIELD_H
#define CN_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>

/*
 * If text (len bytes) is valid JSON whose top level is an object with a member named
 * field whose value is a string, a number or a boolean, writes that value as jsonb ->>
 * would (a string unescaped; a number as numeric prints it: "1e2" is "100", "-0" is "0",
 * "1.50" stays "1.50"; "true"/"false"; the last of duplicate members wins) into out
 * and returns true.  Otherwise (invalid JSON, not an object, no such member, null, an
 * object or array value, a value that does not fit out) returns false.
 */
bool json_field(const char *text, size_t len, const char *field, char *out, size_t outsize);

#endif
