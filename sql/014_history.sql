-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 14: the cluster remembers its terms.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/014_history.sql
-- Needs version 13.  One transaction, idempotent, safe while nodes run (the history is
-- written by a trigger on cluster_state, whatever version the nodes run).  Re-apply
-- sql/roles.sql afterwards.
--
-- One row per term of each partition, written in the transaction that takes the lead (by
-- the trigger below, in the same transaction as the term's raise), and completed when the
-- term ends: who led, on which host, after whom, why the lead changed (what the taker can
-- know for certain), how long the partition went without a committed step, and the last
-- counter of the term.  `clustered_nodes history` reads it; so do `status` and the log
-- line of each takeover.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 13) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/013_lossless_moves.sql first';
    END IF;
END $$;

CREATE TABLE IF NOT EXISTS clustered_nodes.history (
    cluster         text        NOT NULL,
    partition       integer     NOT NULL,
    term            bigint      NOT NULL,
    leader          text        NOT NULL,
    host            text,                   -- the leader's host, as it registered
    previous_leader text,                   -- NULL for the first lead
    began_at        timestamptz NOT NULL,
    -- Why the lead changed, as far as the taker can know:
    --   first lead     no term before this one
    --   handed over    the previous leader released the lead (stop, or a partition moved)
    --   session ended  the previous leader's session ended while its lease was live
    --                  (crash, kill, lost connection, or ended by an operator)
    --   lease lapsed   its lease had run out (hung, stopped or cut off; then evicted)
    --   server restarted  the database server started after the previous leader's last
    --                  step (a restart, or a failover to a standby server)
    reason          text        NOT NULL,
    gap_ms          double precision,       -- from the previous leader's last commit
    ended_at        timestamptz,            -- NULL while the term runs
    last_counter    bigint,                 -- the counter when the term ended
    PRIMARY KEY (cluster, partition, term)
);
CREATE INDEX IF NOT EXISTS history_began ON clustered_nodes.history (cluster, began_at);

-- How many terms of each partition the history keeps (the oldest are pruned by the trigger
-- as new ones are written).
ALTER TABLE clustered_nodes.clusters ADD COLUMN IF NOT EXISTS history_keep integer NOT NULL
    DEFAULT 1000 CHECK (history_keep BETWEEN 1 AND 1000000);

-- For the schema's owner: the history kept for a cluster's partitions.
CREATE OR REPLACE FUNCTION clustered_nodes.set_history_keep(p_cluster text, p_terms integer)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    IF p_terms IS NULL OR p_terms < 1 OR p_terms > 1000000 THEN
        RAISE EXCEPTION 'clustered_nodes: the history keeps 1 to 1000000 terms per partition'
            USING ERRCODE = '22023';
    END IF;
    UPDATE clustered_nodes.clusters SET history_keep = p_terms WHERE cluster = p_cluster;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'clustered_nodes: unknown cluster %', clustered_nodes.shown_name(p_cluster)
            USING ERRCODE = 'CN006';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.record_history() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    why text;
    before_leader text;
    keep integer;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.term = OLD.term THEN
        -- The leader released the lead (release_lead() cleared its mark): its term ends.
        UPDATE clustered_nodes.history SET ended_at = NEW.updated_at, last_counter = OLD.counter
         WHERE cluster = OLD.cluster AND partition = OLD.partition AND term = OLD.term
           AND ended_at IS NULL;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        why := 'first lead';
    ELSE
        SELECT h.leader INTO before_leader FROM clustered_nodes.history h
         WHERE h.cluster = OLD.cluster AND h.partition = OLD.partition AND h.term = OLD.term;
        before_leader := coalesce(before_leader, OLD.leader);
        why := CASE
            WHEN OLD.leader_pid IS NULL THEN 'handed over'
            WHEN pg_postmaster_start_time() > OLD.updated_at THEN 'server restarted'
            WHEN OLD.lease_until IS NOT NULL AND OLD.lease_until < now() THEN 'lease lapsed'
            ELSE 'session ended' END;
        UPDATE clustered_nodes.history
           SET ended_at = coalesce(ended_at, OLD.updated_at), last_counter = OLD.counter
         WHERE cluster = OLD.cluster AND partition = OLD.partition AND term = OLD.term;
    END IF;
    INSERT INTO clustered_nodes.history AS h (cluster, partition, term, leader, host,
                                              previous_leader, began_at, reason, gap_ms)
    VALUES (NEW.cluster, NEW.partition, NEW.term, NEW.leader,
            (SELECT m.host FROM clustered_nodes.members m
              WHERE m.cluster = NEW.cluster AND m.node = NEW.leader),
            before_leader, now(), why,
            CASE WHEN TG_OP = 'UPDATE'
                 THEN greatest(0, extract(epoch FROM now() - OLD.updated_at) * 1000) END)
    ON CONFLICT (cluster, partition, term) DO UPDATE
        SET leader = excluded.leader, host = excluded.host, began_at = excluded.began_at,
            reason = excluded.reason, gap_ms = excluded.gap_ms;
    SELECT c.history_keep INTO keep FROM clustered_nodes.clusters c WHERE c.cluster = NEW.cluster;
    DELETE FROM clustered_nodes.history h
     WHERE h.cluster = NEW.cluster AND h.partition = NEW.partition
       AND h.term <= NEW.term - coalesce(keep, 1000);
    RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS record_history_insert ON clustered_nodes.cluster_state;
DROP TRIGGER IF EXISTS record_history_update ON clustered_nodes.cluster_state;
CREATE TRIGGER record_history_insert AFTER INSERT ON clustered_nodes.cluster_state
    FOR EACH ROW WHEN (NEW.leader IS NOT NULL)
    EXECUTE FUNCTION clustered_nodes.record_history();
-- Not on a step (the counter and the lease move, the term does not): a new term, or a
-- release.
CREATE TRIGGER record_history_update AFTER UPDATE ON clustered_nodes.cluster_state
    FOR EACH ROW WHEN (NEW.term <> OLD.term
                       OR (NEW.leader_pid IS NULL AND OLD.leader_pid IS NOT NULL))
    EXECUTE FUNCTION clustered_nodes.record_history();

-- What the status endpoint's metrics alert on: durable events waiting and dead letters of a
-- cluster (its own tenant's only).
CREATE INDEX IF NOT EXISTS dead_letters_cluster ON clustered_nodes.dead_letters (cluster);
CREATE OR REPLACE FUNCTION clustered_nodes.backlog(p_cluster text)
RETURNS TABLE (events_waiting bigint, dead_letters bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    RETURN QUERY SELECT (SELECT count(*) FROM clustered_nodes.events e WHERE e.cluster = p_cluster),
                        (SELECT count(*) FROM clustered_nodes.dead_letters d WHERE d.cluster = p_cluster);
END $$;

-- The terms running when this file is applied: their start is known, not why.
INSERT INTO clustered_nodes.history (cluster, partition, term, leader, host, began_at, reason)
    SELECT s.cluster, s.partition, s.term, s.leader,
           (SELECT m.host FROM clustered_nodes.members m
             WHERE m.cluster = s.cluster AND m.node = s.leader),
           coalesce(s.elected_at, now()), 'unknown'
      FROM clustered_nodes.cluster_state s WHERE s.leader IS NOT NULL
    ON CONFLICT DO NOTHING;

-- A tenant reads only its clusters' history, as their state (sql/010).
ALTER TABLE clustered_nodes.history ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_reads ON clustered_nodes.history;
CREATE POLICY tenant_reads ON clustered_nodes.history FOR SELECT
    USING (NOT (cluster = ANY (coalesce((SELECT clustered_nodes.clusters_denied()), '{}'))));

REVOKE ALL ON clustered_nodes.history FROM PUBLIC;
REVOKE ALL ON FUNCTION clustered_nodes.record_history(), clustered_nodes.backlog(text),
    clustered_nodes.set_history_keep(text, integer) FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (14, '014_history')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
