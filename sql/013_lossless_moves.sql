-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 13: a planned move loses no plain notification.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/013_lossless_moves.sql
-- Needs version 12.  One transaction, idempotent, safe while nodes run (older nodes do
-- not call it).  Re-apply sql/roles.sql afterwards.
--
-- A leader that hands a partition over (it stops, or gives the partition to a node that
-- joined) keeps listening until it sees the take-over fence of the partition's next
-- leader: the NOTIFY that the next leader's take-over transaction sends.  PostgreSQL
-- delivers notifications to every listener in commit order, so everything this leader
-- received before that fence was committed before the take-over, which the next leader
-- ignores; everything after it, the next leader processes.  What falls between the hand-
-- over and the fence, and what the leader had received but not processed, it turns into
-- durable events of the partition with forward() below, so that the next leader processes
-- each of them exactly once.  A crash leaves no one to do this: there, plain
-- notifications keep their gap.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 12) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/012_whole_errors.sql first';
    END IF;
END $$;

-- Plain notifications received by the session of one of the cluster's live members, for
-- partition p_partition, become that partition's durable events, in the order given, and
-- wake its leader.  Only a login that may act for the cluster may call it (as for
-- notify()), only on channels the cluster listens on (and may use); at most 10,000 at a
-- time.  A stopping node calls it after it has deregistered: the others take its
-- partitions without waiting for its forwarding.
CREATE OR REPLACE FUNCTION clustered_nodes.forward(p_cluster text, p_partition integer,
                                                  p_channels text[], p_payloads text[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    refused text;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    PERFORM clustered_nodes.check_partition(p_cluster, p_partition);
    IF p_channels IS NULL OR p_payloads IS NULL
       OR cardinality(p_channels) <> cardinality(p_payloads) OR cardinality(p_channels) > 10000
       OR array_position(p_payloads, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: forward() takes as many channels as payloads, at most 10000, none NULL'
            USING ERRCODE = '22023';
    END IF;
    SELECT string_agg(DISTINCT coalesce(c, 'NULL'), ', ') INTO refused FROM unnest(p_channels) c
     WHERE c IS NULL OR NOT EXISTS (SELECT 1 FROM clustered_nodes.subscriptions s
                                    WHERE s.cluster = p_cluster AND s.channel = c)
        OR NOT clustered_nodes.may_use_channel(p_cluster, c);
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: cluster % does not listen on channel(s) %', p_cluster,
            clustered_nodes.shown_name(refused) USING ERRCODE = 'CN003';
    END IF;
    INSERT INTO clustered_nodes.events (cluster, channel, payload, partition)
        SELECT p_cluster, u.c, u.p, p_partition
          FROM unnest(p_channels, p_payloads) WITH ORDINALITY AS u(c, p, i) ORDER BY u.i;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF n > 0 THEN
        PERFORM pg_notify('clustered_nodes_events', p_cluster || chr(31) || p_partition);
    END IF;
    RETURN n;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.forward(text, integer, text[], text[]) FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (13, '013_lossless_moves')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
