-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes: the least-privilege group roles for nodes and producers.
--
-- Apply after the migrations (it needs schema version 15), as a role that may create
-- roles:
--   psql -v ON_ERROR_STOP=1 -f sql/roles.sql
-- then give each node's login role the group:
--   CREATE ROLE node_payments LOGIN PASSWORD '…' IN ROLE clustered_nodes_node;
-- Idempotent; re-apply after each migration.  Upgrading from version 5 or older:
-- restart every node on the new version first, then apply this file (it takes away the
-- direct writes older nodes make).
--
-- A node's login may read the cluster tables, and write only through the functions of
-- sql/006_protocol.sql, which check in the database that the caller holds the cluster's
-- lock (for a leader's writes) or is the member's own session (for its row), and that
-- the login may act for the cluster (when it is bound to a role with
-- clustered_nodes.bind_cluster()).  It has no pg_signal_backend: hung-leader eviction
-- runs inside clustered_nodes.evict() with the owner's rights, and only under its rules.
--
-- Advisory locks need no grant: any login of the database can take a cluster's lock
-- (the key is no secret).  Nodes name and evict such a squatter after lease_timeout, but
-- who may log in to the database matters: see the README's Security section.

SET client_min_messages = warning;

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 15) THEN
        RAISE EXCEPTION 'clustered_nodes: apply the migrations first (up to 015_one_listener.sql, in the same folder as this file)';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clustered_nodes_node') THEN
        CREATE ROLE clustered_nodes_node NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clustered_nodes_producer') THEN
        CREATE ROLE clustered_nodes_producer NOLOGIN;
    END IF;
    -- Granted by earlier versions of this file; eviction no longer needs it.
    IF pg_has_role('clustered_nodes_node', 'pg_signal_backend', 'MEMBER') THEN
        REVOKE pg_signal_backend FROM clustered_nodes_node;
    END IF;
END $$;

REVOKE ALL ON SCHEMA clustered_nodes FROM clustered_nodes_node, clustered_nodes_producer;
GRANT USAGE ON SCHEMA clustered_nodes TO clustered_nodes_node, clustered_nodes_producer;

-- Reading: the schema version, the cluster's state and members (status, the view).
REVOKE ALL ON ALL TABLES IN SCHEMA clustered_nodes FROM clustered_nodes_node, clustered_nodes_producer;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA clustered_nodes FROM clustered_nodes_node, clustered_nodes_producer;
GRANT SELECT ON clustered_nodes.schema_migrations, clustered_nodes.cluster_state,
    clustered_nodes.members, clustered_nodes.clusters, clustered_nodes.history
    TO clustered_nodes_node;

-- Writing: only through the functions, which check the caller.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA clustered_nodes FROM PUBLIC, clustered_nodes_node,
    clustered_nodes_producer;
GRANT EXECUTE ON FUNCTION
    clustered_nodes.lock_key(text),
    clustered_nodes.check_may_act(text),
    clustered_nodes.register(text, text, text, integer, text, text),
    clustered_nodes.heartbeat(text, text),
    clustered_nodes.deregister(text, text),
    clustered_nodes.take_lead(text, text, bigint, text[]),
    clustered_nodes.advance(text, bigint, bigint, bigint, bigint, bigint[]),
    clustered_nodes.fetch_events(text, text[], integer),
    clustered_nodes.record_attempt(text, bigint),
    clustered_nodes.dead_letter(text, bigint, text, text, bigint, bigint, text, integer, text),
    clustered_nodes.release_lead(text, bigint),
    clustered_nodes.lock_holder(text),
    clustered_nodes.evict(text, integer, bigint),
    clustered_nodes.wait_lock(bigint, integer, boolean),
    -- partitions (sql/008); the signatures above serve nodes of 0.2 during an upgrade
    clustered_nodes.lock_key(text, integer),
    clustered_nodes.partition_of(text, integer),
    clustered_nodes.key_of(text, text),
    clustered_nodes.cluster_partitions(text, integer, text),
    clustered_nodes.take_lead(text, integer, text, bigint, text[]),
    clustered_nodes.advance(text, integer, bigint, bigint, bigint, bigint, bigint[]),
    clustered_nodes.fetch_events(text, integer, text[], integer),
    clustered_nodes.dead_letter(text, integer, bigint, text, text, bigint, bigint, text, integer, text),
    clustered_nodes.release_lead(text, integer, bigint),
    clustered_nodes.lock_holder(text, integer),
    clustered_nodes.evict(text, integer, integer, bigint),
    -- tenants (sql/010): row-level security asks clusters_denied() once per query
    clustered_nodes.clusters_denied(),
    clustered_nodes.name_problem(text),
    -- a standby's session made ready to lead, and the lock checked after handlers (sql/011)
    clustered_nodes.warm_up(text, text),
    clustered_nodes.check_still_leads(text, integer),
    -- attempts counted across failovers, dead letters with their SQLSTATE (sql/012)
    clustered_nodes.record_attempt(text, bigint, integer),
    clustered_nodes.dead_letter(text, integer, bigint, text, text, bigint, bigint, text, integer,
                                text, text),
    -- a handed-over partition's plain notifications forwarded as durable events (sql/013)
    clustered_nodes.forward(text, integer, text[], text[]),
    -- durable events waiting and dead letters, for /metrics (sql/014)
    clustered_nodes.backlog(text),
    -- one listener per partitioned cluster: the others' watch sessions are rung (sql/015)
    clustered_nodes.watch(text, text, bigint, integer, bigint, bigint),
    clustered_nodes.ring(text, integer[]),
    clustered_nodes.wake(text, integer[])
    TO clustered_nodes_node;

-- Producers of durable events need only clustered_nodes.notify(), which runs with its
-- owner's rights: grant clustered_nodes_producer to them.
GRANT EXECUTE ON FUNCTION clustered_nodes.notify(text, text),
    clustered_nodes.notify(text, text, text), clustered_nodes.partition_of(text, integer),
    clustered_nodes.key_of(text, text)
    TO clustered_nodes_producer, clustered_nodes_node;

COMMIT;
