/* SPDX-License-Identifier: PostgreSQL */
/* Small helpers shared by every module: getting back from an embedded watcher to its owner. */
#ifndef CN_UTIL_H
#define CN_UTIL_H

#include <stddef.h>

/* The struct of type `type` whose member `member` is at ptr (libev watchers embedded in
 * their owner's struct come back to their callback this way). */
#define container_of(ptr, type, member) ((type *) (void *) ((char *) (ptr) - offsetof(type, member)))

#endif
