-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 2: cluster membership.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/002_members.sql
-- Needs version 1 (001_cluster_state.sql).  One transaction, idempotent, safe
-- to apply while nodes run: nodes of version 1 ignore the new table, and a
-- node that needs it refuses to start until it exists.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 1) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/001_cluster_state.sql first';
    END IF;
END $$;

-- One row per running node, written only by that node on its coordination
-- session.  A node is alive while its session is: judge by backend_pid in
-- pg_stat_activity, not by heartbeat_at alone.
CREATE TABLE IF NOT EXISTS clustered_nodes.members (
    cluster      text NOT NULL,
    node         text NOT NULL,
    host         text NOT NULL,
    pid          integer NOT NULL,          -- the node's process id on its host
    version      text NOT NULL,             -- clustered_nodes --version
    role         text NOT NULL DEFAULT 'standby' CHECK (role IN ('leader', 'standby')),
    term         bigint,                    -- while leader
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    backend_pid  integer,                   -- its coordination session
    status_url   text,                      -- its HTTP status endpoint, once it has one
    PRIMARY KEY (cluster, node)
);

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (2, '002_members')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
