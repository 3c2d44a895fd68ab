-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 7: standbys that cost the database nothing.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/007_quiet_standbys.sql
-- Needs version 6.  One transaction, idempotent, safe while nodes run (older nodes do
-- not call it).  Re-apply sql/roles.sql afterwards.
--
-- Standbys LISTEN on nothing (a listening session, on any channel, costs every NOTIFY of
-- the database a signal and a wake-up).  Instead the leader holds a second advisory key,
-- the handoff key, exclusively; between polls a standby waits on it in shared mode, and
-- when the leader hands over or its session ends, every waiter wakes at once.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 6) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/006_protocol.sql first';
    END IF;
END $$;

-- Waits up to p_timeout_ms for an advisory lock: shared (taken and released at once: a
-- wake-up when the exclusive holder lets go) or exclusive (kept, session-level: a
-- wait-mode standby's leader lock).  False on timeout, instead of the error a plain
-- lock_timeout raises, so that a standby's periodic wake-up writes nothing to the
-- server's log.  A cancel while waiting is caught the same way.
CREATE OR REPLACE FUNCTION clustered_nodes.wait_lock(p_key bigint, p_timeout_ms integer,
                                                    p_shared boolean)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM set_config('lock_timeout', p_timeout_ms::text || 'ms', true);
    IF p_shared THEN
        PERFORM pg_advisory_lock_shared(p_key);
        PERFORM pg_advisory_unlock_shared(p_key);
    ELSE
        PERFORM pg_advisory_lock(p_key);
    END IF;
    RETURN true;
EXCEPTION WHEN lock_not_available OR query_canceled THEN
    RETURN false;
END $$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (7, '007_quiet_standbys')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
