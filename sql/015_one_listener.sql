-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 15: a partitioned cluster has one listener.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/015_one_listener.sql
-- Needs version 14.  One transaction, idempotent.  Re-apply sql/roles.sql afterwards.
-- Single-leader clusters may run while it is applied; the nodes of a partitioned cluster
-- must be stopped (it refuses otherwise), and started again on this version: from it on,
-- a partitioned cluster's nodes route plain notifications in a way older nodes do not
-- know, and the two together could process one twice.
--
-- PostgreSQL signals every listening session of a database on each NOTIFY commit, on
-- any channel, and each reads the whole queue: every listening session costs the
-- database's NOTIFY path.  So only one node of a partitioned cluster listens: the leader
-- of partition 0.  It takes partition 0's plain notifications itself and relays every
-- other partition's as that partition's durable events (forward(), sql/013).  The others
-- listen on nothing.  They are woken instead through their watch session (a second
-- session that always waits, in watch() below): ring() records why (a durable event for a
-- partition it leads, or a change of the cluster's members: its look epoch), and wake()
-- then cancels the wait, which watch() catches.  A wake-up that comes while no wait runs
-- is not lost: the next watch() finds the counts moved and returns at once.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
DECLARE
    running text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 14) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/014_history.sql first';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 15) THEN
        SELECT string_agg(DISTINCT m.cluster, ', ') INTO running
          FROM clustered_nodes.members m JOIN clustered_nodes.clusters c USING (cluster)
         WHERE c.partitions > 1
           AND m.backend_pid IN (SELECT pg_stat_get_backend_pid(b) FROM pg_stat_get_backend_idset() b);
        IF running IS NOT NULL THEN
            RAISE EXCEPTION 'clustered_nodes: stop the nodes of partitioned cluster(s) % first, then start them on the version that comes with this file',
                running;
        END IF;
    END IF;
END $$;

-- The member's bell: its watch session's backend, known by its pid and start (a pid
-- alone may be reused by another session); and how often it was rung.
ALTER TABLE clustered_nodes.members ADD COLUMN IF NOT EXISTS bell_pid integer;
ALTER TABLE clustered_nodes.members ADD COLUMN IF NOT EXISTS bell_started timestamptz;
ALTER TABLE clustered_nodes.members ADD COLUMN IF NOT EXISTS rings bigint NOT NULL DEFAULT 0;
-- Raised by each change the cluster's nodes must look at (a join, a leave, a hand-over, a
-- leader's end): a node that sees it move reads the partition map.
ALTER TABLE clustered_nodes.clusters ADD COLUMN IF NOT EXISTS look_epoch bigint NOT NULL DEFAULT 0;

-- The start of backend p_pid, or NULL if it is gone (or not visible to the owner).
CREATE OR REPLACE FUNCTION clustered_nodes.backend_started(p_pid integer) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT pg_stat_get_backend_start(b) FROM pg_stat_get_backend_idset() b
     WHERE pg_stat_get_backend_pid(b) = p_pid
$$;

REVOKE ALL ON FUNCTION clustered_nodes.backend_started(integer) FROM PUBLIC;

-- A watch session's wait: returns 'moved' at once if the cluster's look epoch or the
-- member's rings differ from what the caller last saw (p_epoch, p_rings; -1 when it knows
-- nothing yet), else waits up to p_ms: on handoff key p_key in shared mode ('freed' when
-- its holder lets it go), or on nothing (p_key NULL); 'rung' if wake() cancelled the
-- wait, 'timeout' otherwise.  Returns the epoch and rings as they are at its end.  It
-- makes the calling session the bell of member p_node, if that member's own session is of
-- the same login (a login can only be its own members' bell), and then returns 'moved' at
-- once, without waiting.
CREATE OR REPLACE FUNCTION clustered_nodes.watch(p_cluster text, p_node text, p_key bigint,
                                                p_ms integer, p_epoch bigint, p_rings bigint)
RETURNS TABLE (woke text, epoch bigint, rings bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    m clustered_nodes.members%ROWTYPE;
    me text := p_cluster || '/' || p_node;
    started timestamptz;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    IF p_ms IS NULL OR p_ms < 0 OR p_ms > 3600000 THEN
        RAISE EXCEPTION 'clustered_nodes: watch() waits 0 to 3600000 ms' USING ERRCODE = '22023';
    END IF;
    SELECT * INTO m FROM clustered_nodes.members x WHERE x.cluster = p_cluster AND x.node = p_node;
    -- Whether this session is the member's bell already: it set the row itself (the
    -- session's note says so, and no other session can have its pid meanwhile), so the
    -- backends' status, which costs a copy of every backend's, is read only when not.
    IF FOUND AND NOT (m.bell_pid IS NOT DISTINCT FROM pg_backend_pid()
                      AND current_setting('clustered_nodes.bell', true) IS NOT DISTINCT FROM me) THEN
        started := clustered_nodes.backend_started(pg_backend_pid());
        IF EXISTS (SELECT 1 FROM pg_stat_get_backend_idset() b
                   WHERE pg_stat_get_backend_pid(b) = m.backend_pid
                     AND pg_stat_get_backend_userid(b) =
                         (SELECT r.oid FROM pg_roles r WHERE r.rolname = session_user)) THEN
            UPDATE clustered_nodes.members x SET bell_pid = pg_backend_pid(), bell_started = started
             WHERE x.cluster = p_cluster AND x.node = p_node;
            PERFORM set_config('clustered_nodes.bell', me, false);
            -- Returns at once: a transaction that waits must hold no row lock (a leader
            -- that rings this member while holding the awaited key would deadlock with it).
            p_epoch := NULL;
        END IF;
    END IF;
    epoch := coalesce((SELECT c.look_epoch FROM clustered_nodes.clusters c
                        WHERE c.cluster = p_cluster), 0);
    rings := coalesce(m.rings, 0);
    IF p_epoch IS NULL OR epoch IS DISTINCT FROM p_epoch OR rings IS DISTINCT FROM p_rings THEN
        woke := 'moved';
        RETURN NEXT;
        RETURN;
    END IF;
    BEGIN
        IF p_key IS NULL THEN
            PERFORM pg_sleep(p_ms / 1000.0);
            woke := 'timeout';
        ELSE
            -- A transaction-level hold, released when this call ends, and with the block
            -- if a wake-up cancels it between the grant and the end: a session-level
            -- hold would outlive a cancel there, and keep the next leader from taking the
            -- key.
            PERFORM set_config('lock_timeout', greatest(p_ms, 1)::text || 'ms', true);
            PERFORM pg_advisory_xact_lock_shared(p_key);
            woke := 'freed';
        END IF;
    EXCEPTION WHEN lock_not_available THEN
        woke := 'timeout';
    WHEN query_canceled THEN
        woke := 'rung';
    END;
    epoch := coalesce((SELECT c.look_epoch FROM clustered_nodes.clusters c
                        WHERE c.cluster = p_cluster), 0);
    rings := coalesce((SELECT x.rings FROM clustered_nodes.members x
                        WHERE x.cluster = p_cluster AND x.node = p_node), 0);
    RETURN NEXT;
END $$;

-- Who may ring or wake a cluster's nodes (a login that may act for it), and how many
-- partitions at most a call names.
CREATE OR REPLACE FUNCTION clustered_nodes.check_ring(p_cluster text, p_partitions integer[])
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    IF cardinality(p_partitions) > 64 THEN
        RAISE EXCEPTION 'clustered_nodes: ring() and wake() take at most 64 partitions'
            USING ERRCODE = '22023';
    END IF;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.check_ring(text, integer[]) FROM PUBLIC;

-- Why a wake-up comes, committed before it: p_partitions NULL raises the cluster's look
-- epoch (every node looks); otherwise the leaders of those partitions have their rings
-- raised (they fetch their durable events).  Not the caller's own member.  Returns how
-- many members it concerns.
CREATE OR REPLACE FUNCTION clustered_nodes.ring(p_cluster text, p_partitions integer[])
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    PERFORM clustered_nodes.check_ring(p_cluster, p_partitions);
    IF p_partitions IS NULL THEN
        UPDATE clustered_nodes.clusters c SET look_epoch = c.look_epoch + 1
         WHERE c.cluster = p_cluster;
        RETURN (SELECT count(*) FROM clustered_nodes.members m
                 WHERE m.cluster = p_cluster AND m.backend_pid <> pg_backend_pid());
    END IF;
    UPDATE clustered_nodes.members m SET rings = m.rings + 1
     WHERE m.cluster = p_cluster AND m.backend_pid <> pg_backend_pid()
       AND m.node IN (SELECT s.leader FROM clustered_nodes.cluster_state s
                       WHERE s.cluster = p_cluster AND s.partition = ANY (p_partitions));
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The wake-up, after ring() has committed: cancels the waits of the members concerned
-- (all but the caller's member when p_partitions is NULL, else the leaders of those
-- partitions), and only a backend that is still the bell its member recorded.  Returns
-- how many were cancelled.  Needs an owner that may cancel the nodes' sessions (a
-- superuser, or a member of pg_signal_backend and pg_read_all_stats); without that it
-- cancels nothing, and the nodes find what changed at their next look.
CREATE OR REPLACE FUNCTION clustered_nodes.wake(p_cluster text, p_partitions integer[])
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bell record;
    n integer := 0;
BEGIN
    PERFORM clustered_nodes.check_ring(p_cluster, p_partitions);
    FOR bell IN
        SELECT m.bell_pid FROM clustered_nodes.members m
         WHERE m.cluster = p_cluster AND m.backend_pid <> pg_backend_pid()
           AND m.bell_pid IS NOT NULL AND m.bell_pid <> pg_backend_pid()
           AND (p_partitions IS NULL OR m.node IN
                (SELECT s.leader FROM clustered_nodes.cluster_state s
                  WHERE s.cluster = p_cluster AND s.partition = ANY (p_partitions)))
           AND clustered_nodes.backend_started(m.bell_pid) = m.bell_started
    LOOP
        BEGIN
            IF pg_cancel_backend(bell.bell_pid) THEN
                n := n + 1;
            END IF;
        EXCEPTION WHEN insufficient_privilege THEN
            RETURN n;
        END;
    END LOOP;
    RETURN n;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.watch(text, text, bigint, integer, bigint, bigint) FROM PUBLIC;
REVOKE ALL ON FUNCTION clustered_nodes.ring(text, integer[]) FROM PUBLIC;
REVOKE ALL ON FUNCTION clustered_nodes.wake(text, integer[]) FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (15, '015_one_listener')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
