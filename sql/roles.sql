-- ClusteredNodes: the least-privilege group role for nodes.
--
-- Apply after the migrations, as a role that may create roles:
--   psql -v ON_ERROR_STOP=1 -f sql/roles.sql
-- then give each node's login role the group:
--   CREATE ROLE node_payments LOGIN PASSWORD '…' IN ROLE clustered_nodes_node;
-- Idempotent; re-apply after each migration (it grants on what exists).
--
-- What nodes need and nothing more: read the schema version, write
-- cluster_state and their own members row.  Advisory locks, LISTEN/NOTIFY
-- and pg_stat_activity's pid column need no grant.  The role cannot create,
-- drop or truncate anything, nor delete a cluster's state.
--
-- Hung-leader eviction (lease_timeout) ends the stuck leader's backend with
-- pg_terminate_backend, which PostgreSQL allows against the same role or
-- with pg_signal_backend; the grant below covers nodes that log in as
-- different roles.  pg_signal_backend can end any non-superuser backend of
-- the server (never a superuser's): if that is too much for you, log every
-- node in as the same role, drop the grant, or set lease_timeout = off.

SET client_min_messages = warning;

BEGIN;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clustered_nodes_node') THEN
        CREATE ROLE clustered_nodes_node NOLOGIN;
    END IF;
END $$;

REVOKE ALL ON SCHEMA clustered_nodes FROM clustered_nodes_node;
GRANT USAGE ON SCHEMA clustered_nodes TO clustered_nodes_node;

REVOKE ALL ON ALL TABLES IN SCHEMA clustered_nodes FROM clustered_nodes_node;
GRANT SELECT ON clustered_nodes.schema_migrations TO clustered_nodes_node;
GRANT SELECT, INSERT, UPDATE ON clustered_nodes.cluster_state TO clustered_nodes_node;
GRANT SELECT, INSERT, UPDATE, DELETE ON clustered_nodes.members TO clustered_nodes_node;
GRANT pg_signal_backend TO clustered_nodes_node;
-- Durable events (version 4): consume events, record dead letters.
GRANT SELECT, DELETE ON clustered_nodes.events TO clustered_nodes_node;
GRANT INSERT ON clustered_nodes.dead_letters TO clustered_nodes_node;
GRANT USAGE ON SEQUENCE clustered_nodes.dead_letters_id_seq TO clustered_nodes_node;
-- Version 5: a suspect event's attempts, through clustered_nodes.record_attempt().
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 5) THEN
        GRANT UPDATE (attempts) ON clustered_nodes.events TO clustered_nodes_node;
    END IF;
END $$;

-- Producers of durable events need only clustered_nodes.notify(), which
-- runs with its owner's rights: grant clustered_nodes_producer to them.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'clustered_nodes_producer') THEN
        CREATE ROLE clustered_nodes_producer NOLOGIN;
    END IF;
END $$;
REVOKE ALL ON FUNCTION clustered_nodes.notify(text, text) FROM PUBLIC;
GRANT USAGE ON SCHEMA clustered_nodes TO clustered_nodes_producer;
GRANT EXECUTE ON FUNCTION clustered_nodes.notify(text, text) TO clustered_nodes_producer, clustered_nodes_node;

COMMIT;
