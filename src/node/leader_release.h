/* A leader's graceful end: UNLISTEN when asked to stop, and the hand-over. */
#ifndef CN_LEADER_RELEASE_H
#define CN_LEADER_RELEASE_H

#include "leader.h"

/* Stop listening on the data channels (what was received is still processed); then(l)
 * once that committed.  A failure closes the session, which frees the lock. */
void leader_unlisten(struct leader *l, void (*then)(struct leader *l));
/* Hand over: clear our mark, free the lock and the handoff key in one transaction; the
 * leader's hooks hear released() once it committed. */
void leader_release(struct leader *l);

#endif
