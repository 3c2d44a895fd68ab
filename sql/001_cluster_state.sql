-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 1: the shared state of every cluster.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/001_cluster_state.sql
-- It runs in one transaction and is idempotent: applying it again, or while
-- nodes run, changes nothing that exists.

SET client_min_messages = warning;

BEGIN;

-- Serialise concurrent runs of the migrations (the key is arbitrary but fixed;
-- a transaction-level lock, released at COMMIT).
DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

CREATE SCHEMA IF NOT EXISTS clustered_nodes;

COMMENT ON SCHEMA clustered_nodes IS
    'ClusteredNodes: leader election and persisted state; see the project README';

CREATE TABLE IF NOT EXISTS clustered_nodes.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per cluster.  Only the node holding the cluster's advisory lock
-- writes it, and every write is guarded by WHERE term = <its term>.
CREATE TABLE IF NOT EXISTS clustered_nodes.cluster_state (
    cluster    text PRIMARY KEY,
    counter    bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
    term       bigint NOT NULL DEFAULT 0 CHECK (term >= 0),
    leader     text,
    elected_at timestamptz,
    updated_at timestamptz,
    -- The advisory-lock key the cluster's nodes compete for (derived from the
    -- cluster name, see README).  UNIQUE: two clusters can never share a lock.
    lock_key   bigint NOT NULL UNIQUE,
    -- Backend pid of the leader's coordination session, to find it in
    -- pg_stat_activity and pg_locks.
    leader_pid integer
);

-- Counter and term never go back, whoever writes the row.
CREATE OR REPLACE FUNCTION clustered_nodes.forbid_rollback() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.counter < OLD.counter OR NEW.term < OLD.term THEN
        RAISE EXCEPTION 'clustered_nodes: counter and term never decrease (cluster %: counter % -> %, term % -> %)',
            OLD.cluster, OLD.counter, NEW.counter, OLD.term, NEW.term
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$;

DROP TRIGGER IF EXISTS forbid_rollback ON clustered_nodes.cluster_state;
CREATE TRIGGER forbid_rollback BEFORE UPDATE ON clustered_nodes.cluster_state
    FOR EACH ROW EXECUTE FUNCTION clustered_nodes.forbid_rollback();

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (1, '001_cluster_state')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
