/* SPDX-License-Identifier: PostgreSQL */
/* What a look reads into the acquirer (src/node/acquirer_map.c). */
#ifndef CN_ACQUIRER_MAP_H
#define CN_ACQUIRER_MAP_H

#include <libpq-fe.h>

#include "acquirer.h"

/* SQL_PARTITION_MAP's rows into pt->view (a partition free since when, too). */
void acquirer_read_map(void *ctx, const PGresult *res);
/* SQL_LOOK_RANK's row into pt->rank and pt->live_members. */
void acquirer_read_rank(void *ctx, const PGresult *res);
/* SQL_LIVE_MEMBERS' rows into pt->members (nmembers_read of them). */
void acquirer_read_members(void *ctx, const PGresult *res);

#endif
