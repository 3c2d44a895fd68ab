-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 6: the database enforces the protocol.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/006_protocol.sql
-- Needs version 5.  One transaction, idempotent, safe while nodes run: it adds
-- functions and columns and changes no grant, so nodes of earlier versions keep
-- working.  Then restart every node on this version, and only then re-apply
-- sql/roles.sql, which takes the node role's direct writes away (older nodes need them).
--
-- Apply it as a superuser (or a role with pg_read_all_stats and pg_signal_backend):
-- the SECURITY DEFINER functions below run as their owner, which must see every
-- session's wait event and may end a hung leader's session.
--
-- Every write a node makes goes through a SECURITY DEFINER function with a fixed
-- search_path that checks the caller: the lock-holding session, for the leader's
-- writes (checked in pg_locks against pg_backend_pid(), the key derived here from
-- the cluster's name, never supplied); its own session, for a member row; a login
-- allowed to act for the cluster, where the cluster is bound to a role.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 5) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/005_attempts.sql first';
    END IF;
END $$;

-- ---- functions written before: a fixed search_path ----
ALTER FUNCTION clustered_nodes.forbid_rollback() SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION clustered_nodes.record_attempt(bigint) SET search_path = pg_catalog, pg_temp;

-- ---- the lock key, derived in the database ----
-- The 64-bit FNV-1a hash of 'clustered_nodes:' || cluster (UTF-8), read as a signed
-- bigint: the same key the nodes compute (src/lockkey.c).  Two 32-bit halves, so that
-- no step overflows a bigint.
CREATE OR REPLACE FUNCTION clustered_nodes.lock_key(p_cluster text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b bytea := convert_to('clustered_nodes:' || p_cluster, 'UTF8');
    hi bigint := 3421674724;   -- 0xcbf29ce4
    lo bigint := 2216829733;   -- 0x84222325
    m bigint;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        lo := lo # get_byte(b, i);
        -- x * 0x100000001b3 mod 2^64 = x * 0x1b3 + (x << 40)
        m := lo * 435;
        hi := (hi * 435 + (m >> 32) + ((lo & 16777215) << 8)) & 4294967295;
        lo := m & 4294967295;
    END LOOP;
    RETURN (hi << 32) | lo;
END $$;

-- ---- who may act for a cluster ----
-- A cluster bound to a role may only be acted for by logins that are members of it;
-- an unbound cluster by any member of clustered_nodes_node.
CREATE TABLE IF NOT EXISTS clustered_nodes.cluster_roles (
    cluster text PRIMARY KEY,
    role    name NOT NULL
);

CREATE OR REPLACE FUNCTION clustered_nodes.bind_cluster(p_cluster text, p_role name)
RETURNS void LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    INSERT INTO clustered_nodes.cluster_roles (cluster, role) VALUES (p_cluster, p_role)
    ON CONFLICT (cluster) DO UPDATE SET role = excluded.role
$$;

-- Raises CN003 unless the login may act for the cluster.  session_user: the login,
-- whatever role a definer function runs as.
CREATE OR REPLACE FUNCTION clustered_nodes.check_may_act(p_cluster text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bound name;
BEGIN
    SELECT r.role INTO bound FROM clustered_nodes.cluster_roles r WHERE r.cluster = p_cluster;
    IF bound IS NOT NULL AND NOT pg_has_role(session_user, bound, 'MEMBER') THEN
        RAISE EXCEPTION 'clustered_nodes: login % may not act for cluster % (it is bound to role %)',
            session_user, p_cluster, bound USING ERRCODE = 'CN003';
    END IF;
END $$;

-- Raises CN002 unless this session holds the cluster's advisory lock now; returns the key.
CREATE OR REPLACE FUNCTION clustered_nodes.check_holds_lock(p_cluster text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key bigint := clustered_nodes.lock_key(p_cluster);
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    IF NOT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                     AND ((l.classid::int8 << 32) | l.objid::int8) = key
                     AND l.pid = pg_backend_pid()) THEN
        RAISE EXCEPTION 'clustered_nodes: this session does not hold the lock of cluster %', p_cluster
            USING ERRCODE = 'CN002';
    END IF;
    RETURN key;
END $$;

-- ---- durable events: one copy per cluster that listens ----
-- A cluster subscribes to its channels each time a leader takes the lead (the set
-- follows the leader's channels); clustered_nodes.notify() then writes one row per
-- subscribed cluster, each consumed by its own cluster, exactly once.  An event on a
-- channel no cluster has subscribed to yet waits with cluster NULL, and the first
-- cluster to fetch that channel takes it.  A retired cluster's subscriptions are removed
-- by an operator (DELETE FROM clustered_nodes.subscriptions WHERE cluster = ...).
CREATE TABLE IF NOT EXISTS clustered_nodes.subscriptions (
    cluster text NOT NULL,
    channel text NOT NULL,
    since   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (cluster, channel)
);
CREATE INDEX IF NOT EXISTS subscriptions_channel ON clustered_nodes.subscriptions (channel);
ALTER TABLE clustered_nodes.events ADD COLUMN IF NOT EXISTS cluster text;
CREATE INDEX IF NOT EXISTS events_cluster_channel_id
    ON clustered_nodes.events (cluster, channel, id);

CREATE OR REPLACE FUNCTION clustered_nodes.notify(channel text, payload text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    first_id bigint;
BEGIN
    WITH ins AS (
        INSERT INTO clustered_nodes.events (cluster, channel, payload)
        SELECT s.cluster, channel, payload FROM clustered_nodes.subscriptions s
        WHERE s.channel = channel
        RETURNING events.id)
    SELECT min(ins.id) INTO first_id FROM ins;
    IF first_id IS NULL THEN
        INSERT INTO clustered_nodes.events (cluster, channel, payload)
            VALUES (NULL, channel, payload) RETURNING events.id INTO first_id;
    END IF;
    PERFORM pg_notify('clustered_nodes_events', channel);
    RETURN first_id;
END $$;

-- The leader's next durable events, oldest first: its own, and any nobody has taken yet.
CREATE OR REPLACE FUNCTION clustered_nodes.fetch_events(p_cluster text, p_channels text[], p_limit integer)
RETURNS TABLE (id bigint, channel text, payload text, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster);
    UPDATE clustered_nodes.events e SET cluster = p_cluster
     WHERE e.cluster IS NULL AND e.channel = ANY (p_channels);
    RETURN QUERY SELECT e.id, e.channel, e.payload, e.attempts FROM clustered_nodes.events e
     WHERE e.cluster = p_cluster AND e.channel = ANY (p_channels) ORDER BY e.id LIMIT p_limit;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.record_attempt(p_cluster text, p_event_id bigint)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster);
    UPDATE clustered_nodes.events SET attempts = attempts + 1
     WHERE id = p_event_id AND cluster = p_cluster RETURNING attempts INTO n;
    RETURN n;
END $$;

-- ---- leadership ----
-- Taking the lead: raise the term, record this session as the leader, subscribe the
-- cluster to its channels.  Only the session that holds the lock.
CREATE OR REPLACE FUNCTION clustered_nodes.take_lead(p_cluster text, p_node text, p_lease_ms bigint,
                                                    p_channels text[])
RETURNS TABLE (term bigint, counter bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    key bigint := clustered_nodes.check_holds_lock(p_cluster);
    new_term bigint;
    new_counter bigint;
BEGIN
    INSERT INTO clustered_nodes.cluster_state AS s
        (cluster, lock_key, term, leader, leader_pid, elected_at, updated_at, lease_until)
    VALUES (p_cluster, key, 1, p_node, pg_backend_pid(), now(), now(),
            now() + p_lease_ms * interval '1 millisecond')
    ON CONFLICT (cluster) DO UPDATE SET term = s.term + 1, leader = excluded.leader,
        leader_pid = excluded.leader_pid, elected_at = excluded.elected_at,
        updated_at = excluded.updated_at, lease_until = excluded.lease_until
    RETURNING s.term, s.counter INTO new_term, new_counter;
    UPDATE clustered_nodes.members m SET role = 'leader', term = new_term, heartbeat_at = now()
     WHERE m.cluster = p_cluster AND m.node = p_node AND m.backend_pid = pg_backend_pid();
    -- The cluster's subscriptions follow its channels (events already written for a
    -- channel it dropped stay in the table, for an operator to see).
    DELETE FROM clustered_nodes.subscriptions x
     WHERE x.cluster = p_cluster AND NOT (x.channel = ANY (p_channels));
    INSERT INTO clustered_nodes.subscriptions (cluster, channel)
        SELECT p_cluster, c FROM unnest(p_channels) c
        ON CONFLICT DO NOTHING;
    term := new_term;
    counter := new_counter;
    RETURN NEXT;
END $$;

-- One processing step, called first in the step's transaction: raises the counter by
-- p_count if this session holds the lock, the term is still ours and the counter is where
-- we left it; moves the lease forward; deletes the step's durable events.  Any mismatch
-- raises CN001 (or CN002 without the lock), which aborts the whole transaction.
CREATE OR REPLACE FUNCTION clustered_nodes.advance(
    p_cluster text, p_term bigint, p_counter bigint, p_count bigint, p_lease_ms bigint,
    p_event_ids bigint[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint;
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster);
    IF p_count < 0 OR p_counter > 9223372036854775807 - p_count THEN
        RAISE EXCEPTION 'clustered_nodes: a step of % events from counter % is out of range',
            p_count, p_counter USING ERRCODE = 'CN001';
    END IF;
    UPDATE clustered_nodes.cluster_state
       SET counter = counter + p_count, updated_at = now(),
           lease_until = greatest(lease_until, now() + p_lease_ms * interval '1 millisecond')
     WHERE cluster = p_cluster AND term = p_term AND counter = p_counter;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'clustered_nodes: term % of cluster % is not current (or its counter moved)',
            p_term, p_cluster USING ERRCODE = 'CN001';
    END IF;
    IF cardinality(p_event_ids) > 0 THEN
        DELETE FROM clustered_nodes.events
         WHERE id = ANY (p_event_ids) AND (cluster = p_cluster OR cluster IS NULL);
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted <> cardinality(p_event_ids) THEN
            RAISE EXCEPTION 'clustered_nodes: % of % events of this step are gone',
                cardinality(p_event_ids) - deleted, cardinality(p_event_ids) USING ERRCODE = 'CN001';
        END IF;
    END IF;
    RETURN p_counter;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.dead_letter(
    p_cluster text, p_term bigint, p_channel text, p_payload text, p_event_id bigint,
    p_counter bigint, p_node text, p_attempts integer, p_error text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster);
    INSERT INTO clustered_nodes.dead_letters
        (cluster, channel, payload, event_id, counter, term, node, attempts, error)
    VALUES (p_cluster, p_channel, p_payload, p_event_id, p_counter, p_term, p_node, p_attempts,
            p_error);
END $$;

-- Graceful stop: the leader clears its mark (if the term is still its own).
CREATE OR REPLACE FUNCTION clustered_nodes.release_lead(p_cluster text, p_term bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster);
    UPDATE clustered_nodes.cluster_state SET leader = NULL, leader_pid = NULL, updated_at = now()
     WHERE cluster = p_cluster AND term = p_term;
END $$;

-- ---- members: each row written by its own session ----
-- A row held by another process whose session is still alive is left alone (false: a
-- second live node with this name); one whose session is gone is taken over.
CREATE OR REPLACE FUNCTION clustered_nodes.register(p_cluster text, p_node text, p_host text,
                                                   p_pid integer, p_version text, p_status_url text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    INSERT INTO clustered_nodes.members AS m
        (cluster, node, host, pid, version, role, term, started_at, heartbeat_at, backend_pid,
         status_url)
    VALUES (p_cluster, p_node, p_host, p_pid, p_version, 'standby', NULL, now(), now(),
            pg_backend_pid(), p_status_url)
    ON CONFLICT (cluster, node) DO UPDATE SET host = excluded.host, pid = excluded.pid,
        version = excluded.version, role = 'standby', term = NULL,
        status_url = excluded.status_url,
        started_at = CASE WHEN m.host = excluded.host AND m.pid = excluded.pid
                          THEN m.started_at ELSE excluded.started_at END,
        heartbeat_at = now(), backend_pid = pg_backend_pid()
    WHERE (m.host = excluded.host AND m.pid = excluded.pid AND m.backend_pid = pg_backend_pid())
       OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                      WHERE a.pid = m.backend_pid AND a.pid <> pg_backend_pid());
    RETURN FOUND;
END $$;

-- False when our row is gone or no longer ours: the node writes it again.
CREATE OR REPLACE FUNCTION clustered_nodes.heartbeat(p_cluster text, p_node text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    UPDATE clustered_nodes.members SET heartbeat_at = now()
     WHERE cluster = p_cluster AND node = p_node AND backend_pid = pg_backend_pid();
    RETURN FOUND;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.deregister(p_cluster text, p_node text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    DELETE FROM clustered_nodes.members
     WHERE cluster = p_cluster AND node = p_node AND backend_pid = pg_backend_pid();
END $$;

-- ---- the lock's holder, and ending it ----
-- The session holding the cluster's lock, as an operator needs it named (definer: a
-- node's login cannot see other logins' client addresses), and the member it is, if any.
CREATE OR REPLACE FUNCTION clustered_nodes.lock_holder(p_cluster text)
RETURNS TABLE (pid integer, usename text, application_name text, client_addr text, member text,
               superuser boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT l.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
           coalesce(host(a.client_addr), 'local'),
           (SELECT m.node FROM clustered_nodes.members m
             WHERE m.cluster = p_cluster AND m.backend_pid = l.pid),
           coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.usesysid), false)
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::int8 << 32) | l.objid::int8) = clustered_nodes.lock_key(p_cluster)
$$;

-- Ends the session holding the cluster's lock, only if the database agrees it should
-- go: the recorded leader of term p_term whose lease has lapsed (hung), or a holder that
-- is not the recorded leader while no leader's lease is live (a squatter, a stopped
-- waiter; the node calls this only after seeing it hold the lock for lease_timeout).
-- Never a session waiting for a synchronous standby, never a superuser's, never the
-- caller's.  True if it ended it.
CREATE OR REPLACE FUNCTION clustered_nodes.evict(p_cluster text, p_pid integer, p_term bigint)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
    s record;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    SELECT * INTO h FROM clustered_nodes.lock_holder(p_cluster) x WHERE x.pid = p_pid;
    IF NOT FOUND OR p_pid = pg_backend_pid() THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p_pid AND a.wait_event = 'SyncRep') THEN
        RETURN false;   -- a stalled primary's victim, not a hung leader
    END IF;
    SELECT * INTO s FROM clustered_nodes.cluster_state c WHERE c.cluster = p_cluster;
    IF FOUND AND s.leader_pid = p_pid AND NOT (s.term = p_term AND s.lease_until < now()) THEN
        RETURN false;   -- the leader, and its lease is live (or the term moved)
    END IF;
    IF FOUND AND s.leader_pid IS DISTINCT FROM p_pid AND s.leader_pid IS NOT NULL
       AND s.lease_until >= now() THEN
        RETURN false;   -- someone else leads with a live lease
    END IF;
    IF h.superuser THEN
        RAISE EXCEPTION 'clustered_nodes: will not end a superuser''s session (backend pid %, user %)',
            p_pid, h.usename USING ERRCODE = 'CN004';
    END IF;
    RETURN pg_terminate_backend(p_pid, 1000);
END $$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (6, '006_protocol')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
