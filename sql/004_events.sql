-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 4: durable events, handlers' dead letters, the step function.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/004_events.sql
-- Needs version 3.  One transaction, idempotent, safe while nodes run.
-- Re-apply sql/roles.sql afterwards.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 3) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/003_lease.sql first';
    END IF;
END $$;

-- Durable events: written in the producer's transaction by
-- clustered_nodes.notify(), consumed by the leader, each one deleted in the
-- same transaction as its step (counter and handler).  An event is in the
-- table exactly until its step commits, so whatever order producers commit
-- in, nothing is skipped: there is no cursor to overtake.
CREATE TABLE IF NOT EXISTS clustered_nodes.events (
    id         bigserial PRIMARY KEY,
    channel    text NOT NULL CHECK (octet_length(channel) BETWEEN 1 AND 63),
    payload    text NOT NULL CHECK (octet_length(payload) < 8000),
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS events_channel_id ON clustered_nodes.events (channel, id);

-- Events whose handler failed max_attempts times: recorded, counted, skipped.
CREATE TABLE IF NOT EXISTS clustered_nodes.dead_letters (
    id         bigserial PRIMARY KEY,
    cluster    text NOT NULL,
    channel    text NOT NULL,
    payload    text NOT NULL,
    event_id   bigint,              -- NULL for a plain NOTIFY
    counter    bigint NOT NULL,     -- the counter value the event was given
    term       bigint NOT NULL,
    node       text NOT NULL,
    attempts   integer NOT NULL,
    error      text NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now()
);

-- The producers' entry point: the event and its wake-up notification commit
-- (or roll back) with the producer's transaction.  The wake-up goes to the
-- reserved channel clustered_nodes_events, so plain listeners of the
-- event's channel never see durable events twice.
CREATE OR REPLACE FUNCTION clustered_nodes.notify(channel text, payload text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
    event_id bigint;
BEGIN
    INSERT INTO clustered_nodes.events (channel, payload) VALUES (channel, payload)
        RETURNING id INTO event_id;
    PERFORM pg_notify('clustered_nodes_events', channel);
    RETURN event_id;
END $$;

-- One processing step, called first in the step's transaction: raises the
-- counter by p_count if the term is still ours and the counter is where we
-- left it, renews the lease, and deletes the step's durable events.  Any
-- mismatch raises SQLSTATE CN001, which aborts the whole transaction,
-- handler effects included.  Returns the counter before the step.
CREATE OR REPLACE FUNCTION clustered_nodes.advance(
    p_cluster text, p_term bigint, p_counter bigint, p_count bigint, p_lease_ms bigint,
    p_event_ids bigint[])
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    deleted bigint;
BEGIN
    UPDATE clustered_nodes.cluster_state
       SET counter = counter + p_count, updated_at = now(),
           lease_until = now() + p_lease_ms * interval '1 millisecond'
     WHERE cluster = p_cluster AND term = p_term AND counter = p_counter;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'clustered_nodes: term % of cluster % is not current (or its counter moved)',
            p_term, p_cluster USING ERRCODE = 'CN001';
    END IF;
    IF cardinality(p_event_ids) > 0 THEN
        DELETE FROM clustered_nodes.events WHERE id = ANY (p_event_ids);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted <> cardinality(p_event_ids) THEN
            RAISE EXCEPTION 'clustered_nodes: % of % events of this step are gone',
                cardinality(p_event_ids) - deleted, cardinality(p_event_ids) USING ERRCODE = 'CN001';
        END IF;
    END IF;
    RETURN p_counter;
END $$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (4, '004_events')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
