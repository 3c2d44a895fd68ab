-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 17: the newest watch session of a member is its bell.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/017_newest_bell.sql
-- Needs version 16.  One transaction, idempotent, safe while nodes run (only the body of
-- watch() changes; its arguments and answers are those of 015).
--
-- A node that names a new target while its watch waits opens a new watch session and
-- closes the old one (a wait cannot be cancelled from the client).  If the old backend was
-- still in the call that makes a session the member's bell (its first watch()), that call
-- could commit after the new session's own, even wait for the new session's row lock and
-- then overwrite it: the member's recorded bell was then a backend about to end, wake()
-- cancelled nothing, and the node's leaders heard of their durable events only at their
-- next look (up to a lease_timeout; seen in CI, 1 run in about 50 of
-- test_durable_events_wake_their_leaders_through_the_listener).  A session now becomes the
-- bell only over a bell that started before it or is gone, so the newest session of a
-- member stays its bell whatever order their calls commit in; a session that is not the
-- bell waits like any other, and the node no longer uses it.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 16) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/016_rehearsed_leads.sql first';
    END IF;
END $$;

-- 015's watch(), but for the condition on the bell's UPDATE and what follows from it.
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
            -- Only over an older bell, or one that is gone: see the top of this file.
            UPDATE clustered_nodes.members x SET bell_pid = pg_backend_pid(), bell_started = started
             WHERE x.cluster = p_cluster AND x.node = p_node
               AND (x.bell_pid IS NULL OR x.bell_started IS NULL OR x.bell_started <= started
                    OR clustered_nodes.backend_started(x.bell_pid) IS DISTINCT FROM x.bell_started);
            IF FOUND THEN
                PERFORM set_config('clustered_nodes.bell', me, false);
                -- Returns at once: a transaction that waits must hold no row lock (a leader
                -- that rings this member while holding the awaited key would deadlock with
                -- it).
                p_epoch := NULL;
            END IF;
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

REVOKE ALL ON FUNCTION clustered_nodes.watch(text, text, bigint, integer, bigint, bigint) FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (17, '017_newest_bell')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
