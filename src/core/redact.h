/* SPDX-License-Identifier: PostgreSQL */
/* Hiding the passwords of a libpq connection string where other local users can read it. */
#ifndef CN_REDACT_H
#define CN_REDACT_H

#include <stdbool.h>

/*
 * Overwrites with 'x', in place and within its own length, every secret value (a
 * keyword libpq marks as a password: password, sslpassword) that the connection string
 * or URI conninfo carries, in whichever form it is written: keyword=value, quoted or
 * not, the password of a URI's user info, or a URI query parameter.  What libpq cannot
 * parse, or a secret not found where it was written, is overwritten whole.  The
 * secrets' lengths stay visible.  Returns whether anything was overwritten.
 */
bool redact_conninfo(char *conninfo);

#endif
