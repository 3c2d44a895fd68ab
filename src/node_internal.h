/* Shared between node.c, standby.c and leader.c; not for other modules. */
#ifndef CN_NODE_INTERNAL_H
#define CN_NODE_INTERNAL_H

#include "node.h"

/* node.c: the one place where the state changes. */
void node_set_state(struct node *n, enum node_state to, const char *reason);
/* Drops the session (releasing lock and LISTENs) and reconnects after a backoff. */
void node_reset(struct node *n, const char *reason);
/* Ends the loop with exit_code. */
void node_finish(struct node *n, int exit_code, const char *reason);
/* Starts a batch whose value_index-th statement's first row is kept. */
void node_answer_reset(struct node *n, int value_index);
/* One statement of the batch / the batch's end; false after resetting the node. */
bool node_send(struct node *n, const char *sql, int nparams, const char *const *params);
bool node_sync(struct node *n);
/* Adds the heartbeat and the view's queries to the batch being built when due. */
bool node_send_housekeeping(struct node *n);
/* Whether a heartbeat or a view refresh is waiting for the next batch. */
bool node_housekeeping_due(const struct node *n);

/* standby.c */
void standby_check_schema(struct node *n);
void standby_on_schema_checked(struct node *n);
void standby_register(struct node *n);
void standby_on_registered(struct node *n);
void standby_try_lock(struct node *n);
void standby_on_lock_polled(struct node *n);
void standby_leave(struct node *n);
void standby_on_left(struct node *n);

/* leader.c */
void leader_take_lead(struct node *n);
void leader_on_promoted(struct node *n);
void leader_next(struct node *n);
void leader_step(struct node *n);
/* An empty step: renews the lease and proves the term, processing nothing. */
void leader_renew(struct node *n);
void leader_on_step_done(struct node *n);
void leader_on_release_done(struct node *n);
void leader_forget_events(struct node *n);
/* handler_exec.c: run the exec handler over the next events, then commit them. */
void exec_start(struct node *n);
void exec_abort(struct node *n);
void exec_on_renewal_done(struct node *n);
void exec_renew_lease(struct node *n);
void exec_init(struct node *n);
/* leader.c, for handler_exec.c */
void leader_item(const struct node *n, size_t i, const char **channel, const char **payload);
void leader_handler_failed(struct node *n, size_t failing, const char *error);
/* node.c keeps fetched event rows here as they arrive. */
void leader_store_events(struct node *n, const PGresult *res);

#endif
