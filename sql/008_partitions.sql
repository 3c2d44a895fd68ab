-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 8: partitions.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/008_partitions.sql
-- Needs version 7.  One transaction, idempotent.  Safe while older nodes run, 0.1.0
-- included: the functions nodes built for schema 6 or 7 call keep their signatures
-- (for partition 0), and cluster_state keeps its primary key on (cluster), which the
-- direct writes of 0.1.0 nodes need (ON CONFLICT (cluster)).  Partitioned clusters
-- (K > 1) need sql/009_partition_rows.sql too, which moves the primary key to
-- (cluster, partition): apply it once no 0.1.0 node runs.  Re-apply sql/roles.sql
-- after the last migration, once no 0.1.0 node runs (it takes their direct writes away).
--
-- A cluster has K partitions, fixed when it is created (clustered_nodes.clusters).
-- Each partition has its own row in cluster_state (its counter, term, leader, lease)
-- and its own advisory-lock key; events belong to a partition by a key hashed with
-- clustered_nodes.partition_of().  K = 1 is the single-leader mode of earlier versions,
-- with the same lock key.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 7) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/007_quiet_standbys.sql first';
    END IF;
END $$;

-- ---- clusters and their partitions ----
CREATE TABLE IF NOT EXISTS clustered_nodes.clusters (
    cluster       text PRIMARY KEY,
    partitions    integer NOT NULL DEFAULT 1 CHECK (partitions BETWEEN 1 AND 64),
    -- How an event's key comes from its payload: 'payload', 'prefix:SEP' (the text before
    -- the first SEP) or 'json:FIELD' (a top-level string, number or boolean field).
    partition_key text NOT NULL DEFAULT 'payload',
    created_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO clustered_nodes.clusters (cluster, partitions)
    SELECT DISTINCT cluster, 1 FROM clustered_nodes.cluster_state
    ON CONFLICT DO NOTHING;

ALTER TABLE clustered_nodes.cluster_state ADD COLUMN IF NOT EXISTS partition integer NOT NULL DEFAULT 0;
-- What the functions below write by (ON CONFLICT (cluster, partition)); 009 makes it the
-- primary key.
CREATE UNIQUE INDEX IF NOT EXISTS cluster_state_cluster_partition
    ON clustered_nodes.cluster_state (cluster, partition);

ALTER TABLE clustered_nodes.events ADD COLUMN IF NOT EXISTS partition integer;
ALTER TABLE clustered_nodes.events ADD COLUMN IF NOT EXISTS key text;
UPDATE clustered_nodes.events SET partition = 0 WHERE partition IS NULL AND cluster IS NOT NULL;
CREATE INDEX IF NOT EXISTS events_cluster_partition_id
    ON clustered_nodes.events (cluster, partition, id);
ALTER TABLE clustered_nodes.dead_letters ADD COLUMN IF NOT EXISTS partition integer NOT NULL DEFAULT 0;

-- ---- keys and hashing, the same in C (src/partition.c, src/lockkey.c) ----
-- FNV-1a 32-bit of the key's UTF-8 bytes, modulo the partition count.
CREATE OR REPLACE FUNCTION clustered_nodes.partition_of(p_key text, p_partitions integer)
RETURNS integer LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    b bytea := convert_to(p_key, 'UTF8');
    h bigint := 2166136261;
BEGIN
    FOR i IN 0 .. length(b) - 1 LOOP
        h := ((h # get_byte(b, i)) * 16777619) & 4294967295;
    END LOOP;
    RETURN (h % p_partitions)::integer;
END $$;

-- The key of an event's payload under a cluster's rule (see clusters.partition_key); the
-- whole payload when the rule finds nothing.
CREATE OR REPLACE FUNCTION clustered_nodes.key_of(p_payload text, p_rule text)
RETURNS text LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    sep text;
    doc jsonb;
    field text;
BEGIN
    IF p_rule LIKE 'prefix:%' THEN
        sep := substr(p_rule, 8);
        IF strpos(p_payload, sep) = 0 THEN
            RETURN p_payload;
        END IF;
        RETURN substr(p_payload, 1, strpos(p_payload, sep) - 1);
    ELSIF p_rule LIKE 'json:%' THEN
        field := substr(p_rule, 6);
        BEGIN
            doc := p_payload::jsonb;
        EXCEPTION WHEN others THEN
            RETURN p_payload;
        END;
        IF jsonb_typeof(doc) = 'object' AND jsonb_typeof(doc -> field) IN ('string', 'number', 'boolean') THEN
            RETURN doc ->> field;
        END IF;
        RETURN p_payload;
    END IF;
    RETURN p_payload;
END $$;

-- A partition's lock key: partition 0 keeps the cluster's key; partition p hashes
-- 'clustered_nodes:' || cluster || chr(31) || p (no name holds a control character).
CREATE OR REPLACE FUNCTION clustered_nodes.lock_key(p_cluster text, p_partition integer)
RETURNS bigint LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN p_partition = 0 THEN clustered_nodes.lock_key(p_cluster)
                ELSE clustered_nodes.lock_key(p_cluster || chr(31) || p_partition::text) END
$$;

-- A node's partitions and rule, checked against the cluster's (recorded by its first
-- node): returns what is recorded; the node refuses to run with anything else.
CREATE OR REPLACE FUNCTION clustered_nodes.cluster_partitions(p_cluster text, p_partitions integer,
                                                             p_partition_key text)
RETURNS TABLE (partitions integer, partition_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    IF p_partitions > 1 AND NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations
                                        WHERE version >= 9) THEN
        RAISE EXCEPTION 'clustered_nodes: partitions need sql/009_partition_rows.sql';
    END IF;
    INSERT INTO clustered_nodes.clusters (cluster, partitions, partition_key)
        VALUES (p_cluster, p_partitions, p_partition_key) ON CONFLICT DO NOTHING;
    RETURN QUERY SELECT c.partitions, c.partition_key FROM clustered_nodes.clusters c
                 WHERE c.cluster = p_cluster;
END $$;

-- Changing a cluster's partitions (and, if given, its key rule), deliberately: every node
-- stopped (no session holds any of its locks), then this, then nodes started with the new
-- values.  Counters and terms of partitions that remain are kept (the rows of partitions
-- that go stay, for the record); waiting events are given their new partitions.  For the
-- schema's owner only.
DROP FUNCTION IF EXISTS clustered_nodes.set_partitions(text, integer);  -- a draft's signature
CREATE OR REPLACE FUNCTION clustered_nodes.set_partitions(p_cluster text, p_partitions integer,
                                                         p_partition_key text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rule text;
BEGIN
    IF p_partition_key IS NOT NULL AND NOT (p_partition_key = 'payload'
        OR p_partition_key ~ '^prefix:.' OR p_partition_key ~ '^json:.') THEN
        RAISE EXCEPTION 'clustered_nodes: partition_key must be payload, prefix:SEPARATOR or json:FIELD';
    END IF;
    IF p_partitions > 1 AND NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations
                                        WHERE version >= 9) THEN
        RAISE EXCEPTION 'clustered_nodes: partitions need sql/009_partition_rows.sql';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_locks l
               WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                 AND ((l.classid::int8 << 32) | l.objid::int8) IN
                     (SELECT clustered_nodes.lock_key(p_cluster, g) FROM generate_series(0, 63) g)) THEN
        RAISE EXCEPTION 'clustered_nodes: stop every node of cluster % first', p_cluster;
    END IF;
    INSERT INTO clustered_nodes.clusters (cluster, partitions, partition_key)
        VALUES (p_cluster, p_partitions, coalesce(p_partition_key, 'payload'))
        ON CONFLICT (cluster) DO UPDATE SET partitions = excluded.partitions,
            partition_key = coalesce(p_partition_key, clustered_nodes.clusters.partition_key)
        RETURNING partition_key INTO rule;
    UPDATE clustered_nodes.events
       SET partition = clustered_nodes.partition_of(coalesce(key, clustered_nodes.key_of(payload, rule)),
                                                    p_partitions)
     WHERE cluster = p_cluster;
END $$;

-- Raises CN002 unless this session holds the partition's lock now; returns the key.
CREATE OR REPLACE FUNCTION clustered_nodes.check_holds_lock(p_cluster text, p_partition integer)
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key bigint := clustered_nodes.lock_key(p_cluster, p_partition);
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    IF NOT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                     AND ((l.classid::int8 << 32) | l.objid::int8) = key
                     AND l.pid = pg_backend_pid()) THEN
        RAISE EXCEPTION 'clustered_nodes: this session does not hold the lock of partition % of cluster %',
            p_partition, p_cluster USING ERRCODE = 'CN002';
    END IF;
    RETURN key;
END $$;

-- ---- durable events, with a key ----
CREATE OR REPLACE FUNCTION clustered_nodes.notify(channel text, payload text, key text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    first_id bigint;
    wakes text[];
BEGIN
    WITH ins AS (
        INSERT INTO clustered_nodes.events (cluster, channel, payload, key, partition)
        SELECT s.cluster, channel, payload, key,
               clustered_nodes.partition_of(coalesce(key, clustered_nodes.key_of(payload,
                   coalesce(c.partition_key, 'payload'))), coalesce(c.partitions, 1))
        FROM clustered_nodes.subscriptions s
        LEFT JOIN clustered_nodes.clusters c ON c.cluster = s.cluster
        WHERE s.channel = channel
        RETURNING events.id, events.cluster, events.partition)
    SELECT min(ins.id),
           array_agg(ins.cluster || chr(31) || ins.partition) FILTER (WHERE c.partitions > 1)
      INTO first_id, wakes
      FROM ins LEFT JOIN clustered_nodes.clusters c ON c.cluster = ins.cluster;
    IF first_id IS NULL THEN
        INSERT INTO clustered_nodes.events (cluster, channel, payload, key)
            VALUES (NULL, channel, payload, key) RETURNING events.id INTO first_id;
    END IF;
    -- The wake-up: the channel (every leader of the channel fetches), and for a
    -- partitioned cluster "cluster<US>partition", so that only that partition's leader
    -- does.  Identical payloads in one transaction fold into one notification.
    PERFORM pg_notify('clustered_nodes_events', channel);
    PERFORM pg_notify('clustered_nodes_events', w) FROM unnest(wakes) w;
    RETURN first_id;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.notify(channel text, payload text)
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.notify(channel, payload, NULL::text)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.fetch_events(p_cluster text, p_partition integer,
                                                       p_channels text[], p_limit integer)
RETURNS TABLE (id bigint, channel text, payload text, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k integer;
    rule text;
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    SELECT coalesce(c.partitions, 1), coalesce(c.partition_key, 'payload') INTO k, rule
      FROM (SELECT 1) one LEFT JOIN clustered_nodes.clusters c ON c.cluster = p_cluster;
    -- Events nobody has taken yet (sent before any cluster listened on their channel).
    UPDATE clustered_nodes.events e
       SET cluster = p_cluster,
           partition = clustered_nodes.partition_of(coalesce(e.key, clustered_nodes.key_of(e.payload, rule)), k)
     WHERE e.cluster IS NULL AND e.channel = ANY (p_channels);
    RETURN QUERY SELECT e.id, e.channel, e.payload, e.attempts FROM clustered_nodes.events e
     WHERE e.cluster = p_cluster AND coalesce(e.partition, 0) = p_partition
       AND e.channel = ANY (p_channels)
     ORDER BY e.id LIMIT p_limit;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.fetch_events(p_cluster text, p_channels text[], p_limit integer)
RETURNS TABLE (id bigint, channel text, payload text, attempts integer)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM clustered_nodes.fetch_events(p_cluster, 0, p_channels, p_limit)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.record_attempt(p_cluster text, p_event_id bigint)
RETURNS integer LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
    p integer;
BEGIN
    SELECT coalesce(e.partition, 0) INTO p FROM clustered_nodes.events e
     WHERE e.id = p_event_id AND e.cluster = p_cluster;
    PERFORM clustered_nodes.check_holds_lock(p_cluster, coalesce(p, 0));
    UPDATE clustered_nodes.events SET attempts = attempts + 1
     WHERE id = p_event_id AND cluster = p_cluster RETURNING attempts INTO n;
    RETURN n;
END $$;

-- ---- leadership, per partition ----
CREATE OR REPLACE FUNCTION clustered_nodes.take_lead(p_cluster text, p_partition integer, p_node text,
                                                    p_lease_ms bigint, p_channels text[])
RETURNS TABLE (term bigint, counter bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    key bigint := clustered_nodes.check_holds_lock(p_cluster, p_partition);
    new_term bigint;
    new_counter bigint;
BEGIN
    INSERT INTO clustered_nodes.cluster_state AS s
        (cluster, partition, lock_key, term, leader, leader_pid, elected_at, updated_at, lease_until)
    VALUES (p_cluster, p_partition, key, 1, p_node, pg_backend_pid(), now(), now(),
            now() + p_lease_ms * interval '1 millisecond')
    ON CONFLICT (cluster, partition) DO UPDATE SET term = s.term + 1, leader = excluded.leader,
        leader_pid = excluded.leader_pid, elected_at = excluded.elected_at,
        updated_at = excluded.updated_at, lease_until = excluded.lease_until
    RETURNING s.term, s.counter INTO new_term, new_counter;
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.clusters c
                   WHERE c.cluster = p_cluster AND c.partitions > 1) THEN
        UPDATE clustered_nodes.members m SET role = 'leader', term = new_term, heartbeat_at = now()
         WHERE m.cluster = p_cluster AND m.node = p_node AND m.backend_pid = pg_backend_pid();
    END IF;
    -- The cluster's subscriptions follow its channels (events already written for a
    -- channel it dropped stay in the table, for an operator to see).
    DELETE FROM clustered_nodes.subscriptions x
     WHERE x.cluster = p_cluster AND NOT (x.channel = ANY (p_channels));
    INSERT INTO clustered_nodes.subscriptions (cluster, channel)
        SELECT p_cluster, c FROM unnest(p_channels) c
        ON CONFLICT DO NOTHING;
    -- The fence: a partitioned cluster's leaders share one session for all their
    -- partitions and LISTEN before they lead this one; a plain notification received
    -- before this one (it commits with the take-over) belongs to the previous term.
    IF EXISTS (SELECT 1 FROM clustered_nodes.clusters c
               WHERE c.cluster = p_cluster AND c.partitions > 1) THEN
        PERFORM pg_notify('clustered_nodes_fence', p_partition || ':' || new_term);
    END IF;
    term := new_term;
    counter := new_counter;
    RETURN NEXT;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.take_lead(p_cluster text, p_node text, p_lease_ms bigint,
                                                    p_channels text[])
RETURNS TABLE (term bigint, counter bigint)
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM clustered_nodes.take_lead(p_cluster, 0, p_node, p_lease_ms, p_channels)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.advance(
    p_cluster text, p_partition integer, p_term bigint, p_counter bigint, p_count bigint,
    p_lease_ms bigint, p_event_ids bigint[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint;
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    IF p_count < 0 OR p_counter > 9223372036854775807 - p_count THEN
        RAISE EXCEPTION 'clustered_nodes: a step of % events from counter % is out of range',
            p_count, p_counter USING ERRCODE = 'CN001';
    END IF;
    UPDATE clustered_nodes.cluster_state
       SET counter = counter + p_count, updated_at = now(),
           lease_until = greatest(lease_until, now() + p_lease_ms * interval '1 millisecond')
     WHERE cluster = p_cluster AND partition = p_partition AND term = p_term AND counter = p_counter;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'clustered_nodes: term % of partition % of cluster % is not current (or its counter moved)',
            p_term, p_partition, p_cluster USING ERRCODE = 'CN001';
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

CREATE OR REPLACE FUNCTION clustered_nodes.advance(
    p_cluster text, p_term bigint, p_counter bigint, p_count bigint, p_lease_ms bigint,
    p_event_ids bigint[])
RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.advance(p_cluster, 0, p_term, p_counter, p_count, p_lease_ms, p_event_ids)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.dead_letter(
    p_cluster text, p_partition integer, p_term bigint, p_channel text, p_payload text,
    p_event_id bigint, p_counter bigint, p_node text, p_attempts integer, p_error text)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    INSERT INTO clustered_nodes.dead_letters
        (cluster, partition, channel, payload, event_id, counter, term, node, attempts, error)
    VALUES (p_cluster, p_partition, p_channel, p_payload, p_event_id, p_counter, p_term, p_node,
            p_attempts, p_error);
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.dead_letter(
    p_cluster text, p_term bigint, p_channel text, p_payload text, p_event_id bigint,
    p_counter bigint, p_node text, p_attempts integer, p_error text)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.dead_letter(p_cluster, 0, p_term, p_channel, p_payload, p_event_id,
                                       p_counter, p_node, p_attempts, p_error)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.release_lead(p_cluster text, p_partition integer, p_term bigint)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    UPDATE clustered_nodes.cluster_state SET leader = NULL, leader_pid = NULL, updated_at = now()
     WHERE cluster = p_cluster AND partition = p_partition AND term = p_term;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.release_lead(p_cluster text, p_term bigint)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.release_lead(p_cluster, 0, p_term)
$$;

-- ---- the lock's holder, and ending it, per partition ----
CREATE OR REPLACE FUNCTION clustered_nodes.lock_holder(p_cluster text, p_partition integer)
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
      AND ((l.classid::int8 << 32) | l.objid::int8) = clustered_nodes.lock_key(p_cluster, p_partition)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.lock_holder(p_cluster text)
RETURNS TABLE (pid integer, usename text, application_name text, client_addr text, member text,
               superuser boolean)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT * FROM clustered_nodes.lock_holder(p_cluster, 0)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.evict(p_cluster text, p_partition integer, p_pid integer,
                                                p_term bigint)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    h record;
    s record;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    SELECT * INTO h FROM clustered_nodes.lock_holder(p_cluster, p_partition) x WHERE x.pid = p_pid;
    IF NOT FOUND OR p_pid = pg_backend_pid() THEN
        RETURN false;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = p_pid AND a.wait_event = 'SyncRep') THEN
        RETURN false;   -- a stalled primary's victim, not a hung leader
    END IF;
    SELECT * INTO s FROM clustered_nodes.cluster_state c
     WHERE c.cluster = p_cluster AND c.partition = p_partition;
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

CREATE OR REPLACE FUNCTION clustered_nodes.evict(p_cluster text, p_pid integer, p_term bigint)
RETURNS boolean LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.evict(p_cluster, 0, p_pid, p_term)
$$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (8, '008_partitions')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
