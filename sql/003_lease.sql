-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 3: the leader's lease, for hung-leader eviction.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/003_lease.sql
-- Needs version 2.  One transaction, idempotent, safe while nodes run (older
-- nodes do not read the column; a node that needs it refuses to start until
-- it exists).  Re-apply sql/roles.sql afterwards: eviction needs
-- pg_signal_backend, or all nodes logging in as one role.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 2) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/002_members.sql first';
    END IF;
END $$;

-- The leader renews this with every step and at least every few seconds
-- while idle (server clock only).  A standby that finds the lock held and
-- lease_until in the past ends the holder's backend, if the term is still
-- the one it read, and takes over.
ALTER TABLE clustered_nodes.cluster_state ADD COLUMN IF NOT EXISTS lease_until timestamptz;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (3, '003_lease')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
