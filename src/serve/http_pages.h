/* SPDX-License-Identifier: PostgreSQL */
/* What the status endpoint answers: health, readiness, JSON status, metrics, the page. */
#ifndef CN_HTTP_PAGES_H
#define CN_HTTP_PAGES_H

#include <stdio.h>

struct node;

struct page {
	unsigned status;
	const char *content_type;
};

/* Writes the body for url into out and says its status and type. */
void http_render(const struct node *n, const char *url, FILE *out, struct page *page);

#endif
