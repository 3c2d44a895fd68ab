/* SPDX-License-Identifier: PostgreSQL */
/* Hostile text into HTML (element content or a quoted attribute), for the page and its
 * drawings. */
#ifndef CN_HTML_H
#define CN_HTML_H

#include <stdio.h>

/* s as escape_for_html() writes it: nothing a member wrote can become markup. */
void html_text(FILE *out, const char *s);

#endif
