-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 5: attempts of durable events that end their session.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/005_attempts.sql
-- Needs version 4.  One transaction, idempotent, safe while nodes run (older nodes
-- neither read nor write the column).  Re-apply sql/roles.sql afterwards.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 4) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/004_events.sql first';
    END IF;
END $$;

-- A handler error rolls its step back and is counted by the leader, but a handler that
-- ends its own session (a FATAL error, a crash of the backend) takes the leader's count
-- with it.  So an event that was in flight when a session died runs alone afterwards,
-- and each of its attempts is committed here before it runs: after max_attempts the
-- leader, whichever node it is, dead-letters it instead of running it again.
ALTER TABLE clustered_nodes.events ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION clustered_nodes.record_attempt(p_event_id bigint)
RETURNS integer LANGUAGE sql SET search_path = pg_catalog AS $$
    UPDATE clustered_nodes.events SET attempts = attempts + 1 WHERE id = p_event_id
    RETURNING attempts
$$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (5, '005_attempts')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
