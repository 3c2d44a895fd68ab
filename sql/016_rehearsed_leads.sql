-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 16: a standby rehearses the lead it may have to take.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/016_rehearsed_leads.sql
-- Needs version 15.  One transaction, idempotent, safe while nodes run (a node calls
-- warm_up() when it registers, whatever its version; only what warm_up() does changes).
--
-- 011's warm-up called the lead's functions for a partition none has, so each refused at
-- its first check: the statements after it (the term's raise, the history trigger, the
-- subscriptions, the step) were still planned, and the tables they touch still loaded, on
-- the takeover's critical path.  Measured on this project's machine with 500 NOTIFYs/s:
-- take_lead() took 18 ms in the session of a standby that took over after a SIGKILL, of
-- a takeover of about 40 ms; 2 ms in a session that had run it before.
--
-- So the warm-up now takes a lead for real, on a cluster of its own that nothing else
-- uses (named after the backend), twice (a first lead, then a takeover), fetches, steps,
-- forwards and releases it (a hand-over's side, 7 ms cold in a SIGTERM hand-over), all in
-- a subtransaction that it then rolls back: nothing it wrote is ever
-- visible to anyone, its notifications are discarded with it, and its lock and settings
-- end with it.  A caller can only rehearse, never lead: the lock the rehearsal takes is
-- the scratch cluster's, and the subtransaction always ends in an error.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 15) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/015_one_listener.sql first';
    END IF;
END $$;

-- The warm-up itself, once the caller may act for the cluster (warm_up() checks it; not
-- granted to nodes).  True if the whole rehearsal ran.
CREATE OR REPLACE FUNCTION clustered_nodes.warm_up_lead(p_cluster text, p_node text)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    scratch text := 'clustered_nodes rehearsal ' || pg_backend_pid();
    channel text := 'clustered_nodes_rehearsal_' || pg_backend_pid();
    layout clustered_nodes.clusters%ROWTYPE;
    t bigint;
    c bigint;
    rehearsed boolean := false;
BEGIN
    SELECT * INTO layout FROM clustered_nodes.clusters x WHERE x.cluster = p_cluster;
    BEGIN
        IF NOT pg_try_advisory_xact_lock(clustered_nodes.lock_key(scratch, 0)) THEN
            RAISE EXCEPTION 'the rehearsal''s lock is taken';
        END IF;
        -- The scratch cluster is laid out and bound like the caller's, so that the lead
        -- runs the same branches (the fence of a partitioned cluster, a tenant's
        -- channels).
        IF layout.cluster IS NOT NULL THEN
            INSERT INTO clustered_nodes.clusters (cluster, partitions, partition_key)
                VALUES (scratch, layout.partitions, layout.partition_key)
                RETURNING layout_epoch INTO t;
            PERFORM set_config('clustered_nodes.layout_epoch', scratch || ':' || t, true);
        END IF;
        INSERT INTO clustered_nodes.cluster_roles (cluster, role)
            SELECT scratch, r.role FROM clustered_nodes.cluster_roles r
             WHERE r.cluster = p_cluster;
        PERFORM clustered_nodes.register(scratch, p_node, 'rehearsal', 0, '', NULL);
        SELECT * INTO t, c FROM clustered_nodes.take_lead(scratch, 0, p_node, 1000, ARRAY[channel]);
        SELECT * INTO t, c FROM clustered_nodes.take_lead(scratch, 0, p_node, 1000, ARRAY[channel]);
        PERFORM clustered_nodes.fetch_events(scratch, 0, ARRAY[channel], 1);
        PERFORM clustered_nodes.advance(scratch, 0, t, c, 0, 1000, '{}');
        -- A hand-over: what was received and not processed is forwarded, then the lead
        -- is released (the old leader's side of a SIGTERM, timed at 7 ms cold).
        PERFORM clustered_nodes.forward(scratch, 0, ARRAY[channel], ARRAY['rehearsal']);
        PERFORM clustered_nodes.release_lead(scratch, 0, t);
        rehearsed := true;
        RAISE EXCEPTION 'the rehearsal is rolled back';
    EXCEPTION WHEN OTHERS THEN
        NULL;
    END;
    -- A rehearsal that stopped early (its scratch lock taken, say) warmed what it ran.
    RETURN rehearsed;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.warm_up_lead(text, text) FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (16, '016_rehearsed_leads')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
