-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 11: a standby's session is ready to lead; a busy leader
-- keeps its lease; a handler cannot take the lock away from under its step; dead letters
-- can be driven again (redrive()).
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/011_warm_sessions.sql
-- Needs version 10.  One transaction, idempotent, safe while nodes run (older nodes do
-- not call it).  Re-apply sql/roles.sql afterwards.
--
-- The first take_lead(), fetch_events() and advance() of a session cost several times
-- what later ones do: PostgreSQL compiles each PL/pgSQL function, and loads the tables'
-- and indexes' descriptions, once per session.  A node that takes over after a crash
-- paid that on the takeover's critical path (about 5 ms on a quiet server, 15-20 ms on a
-- busy one).  A node now pays it when it registers, long before any takeover.
--
-- The small helpers every protocol call and every read of a tenant's rows runs (name
-- checks, lock keys, the lease ceiling, channel rights, the row-level security list)
-- were LANGUAGE sql: with a SET clause PostgreSQL 15 cannot inline them, and parses and
-- plans their text again at every call.  They are PL/pgSQL now, whose plans a session
-- keeps; each does exactly what it did.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 10) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/010_tenants.sql first';
    END IF;
END $$;

-- ---- the helpers, as PL/pgSQL (same arguments, results and volatility) ----
CREATE OR REPLACE FUNCTION clustered_nodes.name_problem(p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE
        WHEN p_name IS NULL THEN 'is missing'
        WHEN p_name = '' THEN 'is empty'
        WHEN octet_length(convert_to(p_name, 'UTF8')) > 63 THEN 'is longer than 63 bytes'
        WHEN p_name ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]'
            THEN 'contains a control character'
    END;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.shown_name(p_name text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN left(regexp_replace(coalesce(p_name, ''),
                               '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]', '?', 'g'), 63);
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.lock_key(p_cluster text, p_partition integer)
RETURNS bigint LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN CASE WHEN p_partition = 0 THEN clustered_nodes.lock_key(p_cluster)
                ELSE clustered_nodes.lock_key(p_cluster || chr(31) || p_partition::text) END;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.lease_for(p_cluster text, p_lease_ms bigint)
RETURNS interval LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN least(greatest(coalesce(p_lease_ms, 0), 0),
                 coalesce((SELECT c.lease_ceiling_ms FROM clustered_nodes.clusters c
                           WHERE c.cluster = p_cluster), 600000)) * interval '1 millisecond';
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.may_use_channel(p_cluster text, p_channel text)
RETURNS boolean LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN NOT EXISTS (SELECT 1 FROM clustered_nodes.channel_roles cr WHERE cr.channel = p_channel)
        OR EXISTS (SELECT 1 FROM clustered_nodes.channel_roles cr
                   JOIN clustered_nodes.cluster_roles r ON r.role = cr.role
                   WHERE cr.channel = p_channel AND r.cluster = p_cluster);
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.check_holds_lock(p_cluster text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN clustered_nodes.check_holds_lock(p_cluster, 0);
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.clusters_denied() RETURNS text[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(r.cluster), '{}') FROM clustered_nodes.cluster_roles r
             WHERE NOT pg_has_role(session_user, r.role, 'MEMBER'));
END $$;

-- A leader is busy, not hung, while its session keeps acting: a step's lease renewal
-- commits with the step, so a step of slow handler calls can outlast the lease it set at
-- its start.  evict() now ends the recorded leader only when its lease has run out AND
-- its session has been silent (no statement started, no change of state) for a whole
-- lease (lease_until - updated_at, the lease it last claimed).  Each handler call ends
-- within half a lease (the node's statement_timeout), so a leader making progress always
-- acts within every lease.  Otherwise as in 010.
CREATE OR REPLACE FUNCTION clustered_nodes.evict(p_cluster text, p_partition integer, p_pid integer,
                                                p_term bigint)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
    s record;
    is_member boolean;
BEGIN
    SELECT * INTO h FROM clustered_nodes.lock_holder(p_cluster, p_partition) x WHERE x.pid = p_pid;
    IF NOT FOUND OR p_pid = pg_backend_pid() THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p_pid AND a.wait_event = 'SyncRep') THEN
        RETURN false;   -- a stalled primary's victim, not a hung leader
    END IF;
    is_member := h.member IS NOT NULL;
    SELECT * INTO s FROM clustered_nodes.cluster_state c
     WHERE c.cluster = p_cluster AND c.partition = p_partition;
    IF FOUND AND s.leader_pid = p_pid THEN
        IF NOT (s.term = p_term AND s.lease_until < now()) THEN
            RETURN false;   -- the leader, and its lease is live (or the term moved)
        END IF;
        IF EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p_pid
                   AND a.state_change > clock_timestamp() - (s.lease_until - s.updated_at)) THEN
            RETURN false;   -- busy, not hung: its session acted within the last lease
        END IF;
        -- The cluster's own leader, hung: ended whatever its role.
    ELSIF is_member THEN
        -- A node of the cluster holding the lock without leading (a wait-mode standby
        -- stopped after its wait was granted): ended like a squatter, once no other
        -- leader's lease is live; it is the cluster's own node, whatever its role.
        IF FOUND AND s.leader_pid IS NOT NULL AND s.lease_until >= now() THEN
            RETURN false;
        END IF;
    ELSE
        IF FOUND AND s.leader_pid IS NOT NULL AND s.lease_until >= now() THEN
            RETURN false;   -- another leader's lease is live: wait for it
        END IF;
        IF h.superuser AND NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = session_user) THEN
            RAISE EXCEPTION 'clustered_nodes: will not end a superuser''s session that is not a node of cluster % (backend pid %, user %)',
                p_cluster, p_pid, h.usename USING ERRCODE = 'CN004';
        END IF;
    END IF;
    BEGIN
        RETURN pg_terminate_backend(p_pid, 1000);
    EXCEPTION WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'clustered_nodes: may not end backend pid % (user %): the schema''s functions must be owned by a superuser to end a superuser node''s session',
            p_pid, h.usename USING ERRCODE = 'CN004';
    END;
END $$;

-- The last statement of a step with SQL handlers: raises CN002 unless this session still
-- holds the partition's lock (a handler may have let it go with pg_advisory_unlock_all()),
-- so that nothing of such a step commits.  CN003 for a login that may not act for it.
CREATE OR REPLACE FUNCTION clustered_nodes.check_still_leads(p_cluster text, p_partition integer)
RETURNS void LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.check_still_leads(text, integer) FROM PUBLIC;

-- For operators (the schema's owner, or whom it grants it to; never the node role): put
-- a cluster's dead letters back as durable events, in their own partition and under
-- their original event id, so that CLUSTERED_NODES_EVENT_ID stays the idempotency key (a
-- dead-lettered plain NOTIFY had none and gets a new one), and delete them from
-- dead_letters, in one transaction; the leaders are woken.  p_ids: dead_letters ids, or
-- NULL for every one of the cluster.  Only the cluster's own: nothing is copied to other
-- clusters subscribed to the channel.  Returns how many went back.
CREATE OR REPLACE FUNCTION clustered_nodes.redrive(p_cluster text, p_ids bigint[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
    wakes text[];
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    WITH gone AS (
        DELETE FROM clustered_nodes.dead_letters d
         WHERE d.cluster = p_cluster AND (p_ids IS NULL OR d.id = ANY (p_ids))
        RETURNING d.id, d.event_id, d.channel, d.payload, d.partition),
    back AS (
        INSERT INTO clustered_nodes.events (id, cluster, channel, payload, partition)
        SELECT coalesce(g.event_id, nextval(pg_get_serial_sequence('clustered_nodes.events', 'id'))),
               p_cluster, g.channel, g.payload, g.partition
          FROM gone g ORDER BY g.event_id NULLS LAST, g.id
        RETURNING events.channel, events.partition)
    SELECT count(*), array_agg(DISTINCT b.channel) || array_agg(DISTINCT p_cluster || chr(31) || b.partition)
      INTO n, wakes FROM back b;
    PERFORM pg_notify('clustered_nodes_events', w) FROM unnest(wakes) w WHERE w IS NOT NULL;
    RETURN n;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.redrive(text, bigint[]) FROM PUBLIC;

-- Compiles what a lead runs and loads the tables it touches into this session's caches;
-- changes nothing, reads no row.  The lead's functions are called for partition -1,
-- which none has, so each refuses before doing anything: a session that holds a lock
-- (a leader registering again) cannot take a lead through this.  A login that may not
-- act for the cluster is refused (CN003) as by every function; past that check every
-- error is swallowed (a warm-up that fails costs only time): true if all of it ran.
CREATE OR REPLACE FUNCTION clustered_nodes.warm_up(p_cluster text, p_node text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    RETURN clustered_nodes.warm_up_lead(p_cluster, p_node);
END $$;

-- The warm-up itself, once the caller may act for the cluster (not granted to nodes).
CREATE OR REPLACE FUNCTION clustered_nodes.warm_up_lead(p_cluster text, p_node text)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    channel text;
BEGIN
    SELECT s.channel INTO channel FROM clustered_nodes.subscriptions s
     WHERE s.cluster = p_cluster LIMIT 1;
    channel := coalesce(channel, 'clustered_nodes_warm_up');
    BEGIN	-- the lock check of every write (refused unless this session leads)
        PERFORM clustered_nodes.check_holds_lock(p_cluster, 0);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        PERFORM clustered_nodes.take_lead(p_cluster, -1, p_node, 0, ARRAY[channel]);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        PERFORM clustered_nodes.fetch_events(p_cluster, -1, ARRAY[channel], 1);
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    BEGIN
        PERFORM clustered_nodes.advance(p_cluster, -1, 0, 0, 0, 0, '{}');
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    -- What take_lead() checks and writes after its lock check, which refused above.
    PERFORM clustered_nodes.check_name('node', p_node), clustered_nodes.check_channels(ARRAY[channel]),
            clustered_nodes.check_layout(p_cluster), clustered_nodes.may_use_channel(p_cluster, channel),
            clustered_nodes.lease_for(p_cluster, 1000);
    PERFORM FROM clustered_nodes.cluster_state, clustered_nodes.members,
                 clustered_nodes.clusters, clustered_nodes.cluster_roles,
                 clustered_nodes.channel_roles, clustered_nodes.subscriptions,
                 clustered_nodes.events
     LIMIT 0;
    RETURN true;
EXCEPTION WHEN OTHERS THEN
    RETURN false;
END $$;

REVOKE ALL ON FUNCTION clustered_nodes.warm_up(text, text), clustered_nodes.warm_up_lead(text, text)
    FROM PUBLIC;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (11, '011_warm_sessions')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
