-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 12: a dead letter keeps its error's SQLSTATE and the
-- whole message; a durable event's attempts are counted across failovers.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/012_whole_errors.sql
-- Needs version 11.  One transaction, idempotent, safe while nodes run (older nodes call
-- the functions of 011, which still work).  Re-apply sql/roles.sql afterwards.
--
-- Attempts: a leader counted a failing event's attempts in its memory and wrote them to
-- the table only for an event whose handler had ended the session.  A failover lost the
-- count: the next leader started again from what the table said (run 4 times, recorded
-- 3).  Now every attempt of an event that runs alone (it failed before, or was in flight
-- when a session died) is committed before it runs, as the number it is; see
-- record_attempt(text, bigint, integer) below.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 11) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/011_warm_sessions.sql first';
    END IF;
END $$;

-- The SQLSTATE of the error that dead-lettered the event; NULL for an exec handler's
-- failure (a program has no SQLSTATE) and for letters written before version 12.
ALTER TABLE clustered_nodes.dead_letters ADD COLUMN IF NOT EXISTS sqlstate text;

-- Attempt p_attempt (1 for the first) of a durable event is about to run alone: the
-- event's attempts become at least that, in a transaction of its own, so that whichever
-- node leads next counts on from there even if this one dies while it runs.  The leader
-- passes the attempts it counted itself plus one, which covers the failures it saw before
-- the event ran alone (those were in steps that rolled back); an attempt the transient
-- schedule does not count is recorded twice as the same number, never as two.
CREATE OR REPLACE FUNCTION clustered_nodes.record_attempt(p_cluster text, p_event_id bigint,
                                                         p_attempt integer)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    p integer;
BEGIN
    IF p_attempt IS NULL OR p_attempt < 1 THEN
        RAISE EXCEPTION 'clustered_nodes: an attempt is numbered from 1, not %',
            coalesce(p_attempt::text, 'NULL') USING ERRCODE = '22023';
    END IF;
    SELECT coalesce(e.partition, 0) INTO p FROM clustered_nodes.events e
     WHERE e.id = p_event_id AND e.cluster = p_cluster;
    PERFORM clustered_nodes.check_holds_lock(p_cluster, coalesce(p, 0));
    UPDATE clustered_nodes.events SET attempts = greatest(attempts, p_attempt)
     WHERE id = p_event_id AND cluster = p_cluster RETURNING attempts INTO n;
    RETURN n;
END $$;

-- As 008's dead_letter(), with the error's SQLSTATE (five characters of 0-9 and A-Z, or
-- NULL) and the error text whole.
CREATE OR REPLACE FUNCTION clustered_nodes.dead_letter(
    p_cluster text, p_partition integer, p_term bigint, p_channel text, p_payload text,
    p_event_id bigint, p_counter bigint, p_node text, p_attempts integer, p_error text,
    p_sqlstate text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_sqlstate IS NOT NULL AND p_sqlstate !~ '^[0-9A-Z]{5}$' THEN
        RAISE EXCEPTION 'clustered_nodes: % is not a SQLSTATE', quote_literal(left(p_sqlstate, 20))
            USING ERRCODE = '22023';
    END IF;
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    INSERT INTO clustered_nodes.dead_letters
        (cluster, partition, channel, payload, event_id, counter, term, node, attempts, error,
         sqlstate)
    VALUES (p_cluster, p_partition, p_channel, p_payload, p_event_id, p_counter, p_term, p_node,
            p_attempts, p_error, p_sqlstate);
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.record_attempt(text, bigint, integer),
    clustered_nodes.dead_letter(text, integer, bigint, text, text, bigint, bigint, text, integer,
                                text, text)
    FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (12, '012_whole_errors')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
