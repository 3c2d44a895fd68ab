-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 10: tenants stay apart.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/010_tenants.sql
-- Needs version 9.  One transaction, idempotent, safe while nodes of 0.2 run (the
-- functions keep their signatures).  Re-apply sql/roles.sql afterwards.  Apply it as a
-- superuser: the functions below run as their owner, which must see every session and
-- may end a hung leader's session, a superuser node's included.
--
-- What it enforces, in the database, whoever calls:
--   * Names.  Cluster, node and channel names follow the node's rules (1 to 63 bytes of
--     UTF-8 without control characters: C0, DEL, C1, bidi overrides and isolates).  A
--     partition's lock key hashes 'clustered_nodes:' || cluster || chr(31) || partition,
--     so with no chr(31) in a name, distinct (cluster, partition) pairs hash distinct
--     inputs by construction; a partition outside 0 .. K - 1 is refused; a state row's
--     key is checked to be its own.  Rows that break these rules stop the migration,
--     named, for an operator to remove.
--   * Eviction.  evict() ends a session only if it holds the named partition's lock and,
--     by that partition's own row, is its recorded leader with a lapsed lease (whatever
--     its role: a superuser node too), or is not a live member of the cluster (a
--     squatter).  A superuser squatter is named (CN004), never ended by a non-superuser.
--   * Bounded writes.  The lease a leader claims is capped by the cluster's
--     lease_ceiling_ms (default 10 min; set_lease_ceiling() for the schema's owner); a
--     step raises a counter by at most 10,000,000; only a registered member, on its own
--     session, may take the lead, under its own name.
--   * Events per tenant.  A channel is bound to a role with bind_channel() or
--     bind_cluster(cluster, role, channels), or claimed by the first cluster bound to a
--     role that subscribes to it.  A bound channel is subscribed to, fetched and claimed
--     only by clusters bound to that role (so only by that role's logins).
--   * Reads.  Row-level security: a login reads the rows of cluster_state, members and
--     clusters only for clusters it may act for; lock_holder() checks the caller too.
--   * Layout changes.  set_partitions() raises the cluster's layout_epoch; a node's session
--     records the epoch it read at connect (cluster_partitions()), and take_lead() and
--     advance() refuse (CN007) a session whose epoch is not the cluster's: a node started
--     under the old K or key rule processes nothing after the change.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 9) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/009_partition_rows.sql first';
    END IF;
END $$;

-- ---- names: one rule set, the node's (src/names.c) ----
-- NULL when acceptable, else why not.  (Hazards: C0, DEL, C1, U+202A..U+202E and
-- U+2066..U+2069, as src/escape.c's code_point_is_hazard.)
CREATE OR REPLACE FUNCTION clustered_nodes.name_problem(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN p_name IS NULL THEN 'is missing'
        WHEN p_name = '' THEN 'is empty'
        WHEN octet_length(convert_to(p_name, 'UTF8')) > 63 THEN 'is longer than 63 bytes'
        WHEN p_name ~ '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]'
            THEN 'contains a control character'
    END
$$;

-- A name as it may be shown in an error: hazards replaced by '?', at most 63 characters.
CREATE OR REPLACE FUNCTION clustered_nodes.shown_name(p_name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
    SELECT left(regexp_replace(coalesce(p_name, ''),
                               '[\x01-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]', '?', 'g'), 63)
$$;

-- Raises CN006 unless the name is acceptable.  p_kind: 'cluster', 'node' or 'channel'.
CREATE OR REPLACE FUNCTION clustered_nodes.check_name(p_kind text, p_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    why text := clustered_nodes.name_problem(p_name);
BEGIN
    IF why IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: the % name "%" %', p_kind,
            clustered_nodes.shown_name(p_name), why USING ERRCODE = 'CN006';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.check_channels(p_channels text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_channels IS NULL OR cardinality(p_channels) > 64 THEN
        RAISE EXCEPTION 'clustered_nodes: a node listens on 1 to 64 channels' USING ERRCODE = 'CN006';
    END IF;
    PERFORM clustered_nodes.check_name('channel', c) FROM unnest(p_channels) c;
END $$;

-- ---- rows that break the rules: named, never silently kept ----
DO $$
DECLARE
    bad text;
BEGIN
    SELECT string_agg(format('cluster_state (cluster %s, partition %s)',
                             quote_literal(clustered_nodes.shown_name(s.cluster)), s.partition), ', ')
      INTO bad
      FROM clustered_nodes.cluster_state s
     WHERE clustered_nodes.name_problem(s.cluster) IS NOT NULL
        OR s.partition < 0 OR s.partition > 63
        OR s.lock_key <> clustered_nodes.lock_key(s.cluster, s.partition);
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: rows that break the naming rules or hold another partition''s lock key: %', bad
            USING HINT = 'These were not written by a node of this project (nodes refuse such names). '
                         'Delete them as the schema''s owner (DELETE FROM clustered_nodes.cluster_state '
                         'WHERE cluster = ...), then apply this file again.';
    END IF;
    SELECT string_agg(quote_literal(clustered_nodes.shown_name(c.cluster)), ', ') INTO bad
      FROM (SELECT cluster FROM clustered_nodes.clusters
            UNION SELECT cluster FROM clustered_nodes.members
            UNION SELECT cluster FROM clustered_nodes.subscriptions
            UNION SELECT cluster FROM clustered_nodes.cluster_roles) c
     WHERE clustered_nodes.name_problem(c.cluster) IS NOT NULL;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: cluster names that break the naming rules: %', bad
            USING HINT = 'Delete their rows from clustered_nodes.clusters, members, subscriptions '
                         'and cluster_roles as the schema''s owner, then apply this file again.';
    END IF;
END $$;

ALTER TABLE clustered_nodes.cluster_state DROP CONSTRAINT IF EXISTS cluster_state_own_key;
ALTER TABLE clustered_nodes.cluster_state ADD CONSTRAINT cluster_state_own_key
    CHECK (clustered_nodes.name_problem(cluster) IS NULL AND partition BETWEEN 0 AND 63
           AND lock_key = clustered_nodes.lock_key(cluster, partition));

-- ---- what a lock holder may claim: bounded by the cluster ----
ALTER TABLE clustered_nodes.clusters ADD COLUMN IF NOT EXISTS lease_ceiling_ms bigint NOT NULL
    DEFAULT 600000 CHECK (lease_ceiling_ms BETWEEN 1000 AND 3600000);

-- The lease a leader of the cluster may claim: what it asks, at most the ceiling.
CREATE OR REPLACE FUNCTION clustered_nodes.lease_for(p_cluster text, p_lease_ms bigint)
RETURNS interval LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT least(greatest(coalesce(p_lease_ms, 0), 0),
                 coalesce((SELECT c.lease_ceiling_ms FROM clustered_nodes.clusters c
                           WHERE c.cluster = p_cluster), 600000)) * interval '1 millisecond'
$$;

-- For the schema's owner: the longest lease a leader of the cluster may claim.
CREATE OR REPLACE FUNCTION clustered_nodes.set_lease_ceiling(p_cluster text, p_ceiling_ms bigint)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    INSERT INTO clustered_nodes.clusters (cluster, lease_ceiling_ms) VALUES (p_cluster, p_ceiling_ms)
        ON CONFLICT (cluster) DO UPDATE SET lease_ceiling_ms = excluded.lease_ceiling_ms;
END $$;

-- ---- the layout a session runs under ----
ALTER TABLE clustered_nodes.clusters ADD COLUMN IF NOT EXISTS layout_epoch bigint NOT NULL DEFAULT 1;

-- Raises CN007 if this session read the cluster's partitions and key rule under another
-- layout epoch than the cluster's now (set_partitions() ran since).  A session that never
-- read them (a node of a version before this file's, connected before it was applied)
-- is let through: it reads them at its next connect.
CREATE OR REPLACE FUNCTION clustered_nodes.check_layout(p_cluster text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    mine text := nullif(current_setting('clustered_nodes.layout_epoch', true), '');
    now_ clustered_nodes.clusters%ROWTYPE;
BEGIN
    IF mine IS NULL THEN
        RETURN;
    END IF;
    SELECT * INTO now_ FROM clustered_nodes.clusters c WHERE c.cluster = p_cluster;
    IF FOUND AND mine <> p_cluster || ':' || now_.layout_epoch THEN
        RAISE EXCEPTION 'clustered_nodes: cluster % now has % partition(s) with partition_key % (changed while this node ran): restart the node with those values',
            p_cluster, now_.partitions, now_.partition_key USING ERRCODE = 'CN007';
    END IF;
END $$;

-- A node's partitions and rule, checked against the cluster's (recorded by its first
-- node): returns what is recorded, and notes the layout epoch in the session.  Waits
-- while set_partitions() changes them.
CREATE OR REPLACE FUNCTION clustered_nodes.cluster_partitions(p_cluster text, p_partitions integer,
                                                             p_partition_key text)
RETURNS TABLE (partitions integer, partition_key text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    c clustered_nodes.clusters%ROWTYPE;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    INSERT INTO clustered_nodes.clusters (cluster, partitions, partition_key)
        VALUES (p_cluster, p_partitions, p_partition_key) ON CONFLICT DO NOTHING;
    SELECT * INTO c FROM clustered_nodes.clusters x WHERE x.cluster = p_cluster FOR SHARE;
    PERFORM set_config('clustered_nodes.layout_epoch', p_cluster || ':' || c.layout_epoch, false);
    partitions := c.partitions;
    partition_key := c.partition_key;
    RETURN NEXT;
END $$;

-- Changing a cluster's partitions (and, if given, its key rule), deliberately: stop every
-- node, then this, then start nodes with the new values.  A node still running is
-- refused by take_lead() and advance() from then on (CN007) and stops.  For the schema's
-- owner only.
CREATE OR REPLACE FUNCTION clustered_nodes.set_partitions(p_cluster text, p_partitions integer,
                                                         p_partition_key text DEFAULT NULL)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    rule text;
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    IF p_partition_key IS NOT NULL AND NOT (p_partition_key = 'payload'
        OR p_partition_key ~ '^prefix:.' OR p_partition_key ~ '^json:.') THEN
        RAISE EXCEPTION 'clustered_nodes: partition_key must be payload, prefix:SEPARATOR or json:FIELD';
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
            partition_key = coalesce(p_partition_key, clustered_nodes.clusters.partition_key),
            layout_epoch = clustered_nodes.clusters.layout_epoch + 1
        RETURNING partition_key INTO rule;
    UPDATE clustered_nodes.events
       SET partition = clustered_nodes.partition_of(coalesce(key, clustered_nodes.key_of(payload, rule)),
                                                    p_partitions)
     WHERE cluster = p_cluster;
END $$;

-- ---- who may act for a cluster, and which channels are whose ----
CREATE TABLE IF NOT EXISTS clustered_nodes.channel_roles (
    channel text PRIMARY KEY CHECK (clustered_nodes.name_problem(channel) IS NULL),
    role    name NOT NULL
);

-- Raises CN006 for a bad name, CN003 unless the login may act for the cluster.
CREATE OR REPLACE FUNCTION clustered_nodes.check_may_act(p_cluster text) RETURNS void
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    bound name;
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    SELECT r.role INTO bound FROM clustered_nodes.cluster_roles r WHERE r.cluster = p_cluster;
    IF bound IS NOT NULL AND NOT pg_has_role(session_user, bound, 'MEMBER') THEN
        RAISE EXCEPTION 'clustered_nodes: login % may not act for cluster % (it is bound to role %)',
            session_user, p_cluster, bound USING ERRCODE = 'CN003';
    END IF;
END $$;


-- May this cluster use the channel?  A bound channel: only clusters bound to its role.
CREATE OR REPLACE FUNCTION clustered_nodes.may_use_channel(p_cluster text, p_channel text)
RETURNS boolean LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT NOT EXISTS (SELECT 1 FROM clustered_nodes.channel_roles cr WHERE cr.channel = p_channel)
        OR EXISTS (SELECT 1 FROM clustered_nodes.channel_roles cr
                   JOIN clustered_nodes.cluster_roles r ON r.role = cr.role
                   WHERE cr.channel = p_channel AND r.cluster = p_cluster)
$$;

CREATE OR REPLACE FUNCTION clustered_nodes.bind_channel(p_channel text, p_role name)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_name('channel', p_channel);
    INSERT INTO clustered_nodes.channel_roles (channel, role) VALUES (p_channel, p_role)
        ON CONFLICT (channel) DO UPDATE SET role = excluded.role;
    -- Clusters of other roles lose the channel (their copies already written stay).
    DELETE FROM clustered_nodes.subscriptions x
     WHERE x.channel = p_channel AND NOT clustered_nodes.may_use_channel(x.cluster, p_channel);
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.bind_cluster(p_cluster text, p_role name)
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_name('cluster', p_cluster);
    INSERT INTO clustered_nodes.cluster_roles (cluster, role) VALUES (p_cluster, p_role)
        ON CONFLICT (cluster) DO UPDATE SET role = excluded.role;
END $$;

-- A cluster and its channels, bound to a role in one call (the way to set up a tenant:
-- its channels are its own from the first moment, before any node runs).
CREATE OR REPLACE FUNCTION clustered_nodes.bind_cluster(p_cluster text, p_role name, p_channels text[])
RETURNS void LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.bind_cluster(p_cluster, p_role);
    PERFORM clustered_nodes.bind_channel(c, p_role) FROM unnest(p_channels) c;
END $$;

-- ---- the lock: the caller's, of a partition that exists ----
CREATE OR REPLACE FUNCTION clustered_nodes.check_partition(p_cluster text, p_partition integer)
RETURNS void LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k integer := coalesce((SELECT c.partitions FROM clustered_nodes.clusters c
                           WHERE c.cluster = p_cluster), 1);
BEGIN
    IF p_partition IS NULL OR p_partition < 0 OR p_partition >= k THEN
        RAISE EXCEPTION 'clustered_nodes: cluster % has no partition % (it has %)',
            p_cluster, p_partition, k USING ERRCODE = 'CN006';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.check_holds_lock(p_cluster text, p_partition integer)
RETURNS bigint LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    key bigint;
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    PERFORM clustered_nodes.check_partition(p_cluster, p_partition);
    key := clustered_nodes.lock_key(p_cluster, p_partition);
    IF NOT EXISTS (SELECT 1 FROM pg_locks l
                   WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                     AND ((l.classid::int8 << 32) | l.objid::int8) = key
                     AND l.pid = pg_backend_pid()) THEN
        RAISE EXCEPTION 'clustered_nodes: this session does not hold the lock of partition % of cluster %',
            p_partition, p_cluster USING ERRCODE = 'CN002';
    END IF;
    RETURN key;
END $$;

CREATE OR REPLACE FUNCTION clustered_nodes.check_holds_lock(p_cluster text) RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT clustered_nodes.check_holds_lock(p_cluster, 0)
$$;

-- ---- durable events, per tenant ----
CREATE OR REPLACE FUNCTION clustered_nodes.notify(channel text, payload text, key text)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    first_id bigint;
    wakes text[];
BEGIN
    PERFORM clustered_nodes.check_name('channel', channel);
    WITH ins AS (
        INSERT INTO clustered_nodes.events (cluster, channel, payload, key, partition)
        SELECT s.cluster, channel, payload, key,
               clustered_nodes.partition_of(coalesce(key, clustered_nodes.key_of(payload,
                   coalesce(c.partition_key, 'payload'))), coalesce(c.partitions, 1))
        FROM clustered_nodes.subscriptions s
        LEFT JOIN clustered_nodes.clusters c ON c.cluster = s.cluster
        WHERE s.channel = channel AND clustered_nodes.may_use_channel(s.cluster, channel)
        RETURNING events.id, events.cluster, events.partition)
    SELECT min(ins.id),
           array_agg(ins.cluster || chr(31) || ins.partition) FILTER (WHERE c.partitions > 1)
      INTO first_id, wakes
      FROM ins LEFT JOIN clustered_nodes.clusters c ON c.cluster = ins.cluster;
    IF first_id IS NULL THEN
        INSERT INTO clustered_nodes.events (cluster, channel, payload, key)
            VALUES (NULL, channel, payload, key) RETURNING events.id INTO first_id;
    END IF;
    PERFORM pg_notify('clustered_nodes_events', channel);
    PERFORM pg_notify('clustered_nodes_events', w) FROM unnest(wakes) w;
    RETURN first_id;
END $$;

-- The leader's next durable events of its partition: only on channels its cluster is
-- subscribed to and may use; events nobody has taken yet only on such channels too.
CREATE OR REPLACE FUNCTION clustered_nodes.fetch_events(p_cluster text, p_partition integer,
                                                       p_channels text[], p_limit integer)
RETURNS TABLE (id bigint, channel text, payload text, attempts integer)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    k integer;
    rule text;
    mine text[];
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    SELECT coalesce(c.partitions, 1), coalesce(c.partition_key, 'payload') INTO k, rule
      FROM (SELECT 1) one LEFT JOIN clustered_nodes.clusters c ON c.cluster = p_cluster;
    SELECT coalesce(array_agg(s.channel), '{}') INTO mine FROM clustered_nodes.subscriptions s
     WHERE s.cluster = p_cluster AND s.channel = ANY (p_channels)
       AND clustered_nodes.may_use_channel(p_cluster, s.channel);
    UPDATE clustered_nodes.events e
       SET cluster = p_cluster,
           partition = clustered_nodes.partition_of(coalesce(e.key, clustered_nodes.key_of(e.payload, rule)), k)
     WHERE e.cluster IS NULL AND e.channel = ANY (mine);
    RETURN QUERY SELECT e.id, e.channel, e.payload, e.attempts FROM clustered_nodes.events e
     WHERE e.cluster = p_cluster AND coalesce(e.partition, 0) = p_partition
       AND e.channel = ANY (mine)
     ORDER BY e.id LIMIT greatest(least(p_limit, 10000), 0);
END $$;

-- ---- leadership: a member, under its own name, with a bounded lease ----
CREATE OR REPLACE FUNCTION clustered_nodes.take_lead(p_cluster text, p_partition integer, p_node text,
                                                    p_lease_ms bigint, p_channels text[])
RETURNS TABLE (term bigint, counter bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE
    key bigint := clustered_nodes.check_holds_lock(p_cluster, p_partition);
    bound name := (SELECT r.role FROM clustered_nodes.cluster_roles r WHERE r.cluster = p_cluster);
    lease interval := clustered_nodes.lease_for(p_cluster, p_lease_ms);
    refused text;
    new_term bigint;
    new_counter bigint;
BEGIN
    PERFORM clustered_nodes.check_name('node', p_node);
    PERFORM clustered_nodes.check_channels(p_channels);
    PERFORM clustered_nodes.check_layout(p_cluster);
    -- Only the member's own session leads under its name: a lock holder that is not a
    -- registered node of the cluster stays a squatter whatever name it gives.
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.members m
                   WHERE m.cluster = p_cluster AND m.node = p_node
                     AND m.backend_pid = pg_backend_pid()) THEN
        RAISE EXCEPTION 'clustered_nodes: only member %''s own session may lead cluster % under its name (register first)',
            p_node, p_cluster USING ERRCODE = 'CN002';
    END IF;
    SELECT string_agg(c, ', ') INTO refused FROM unnest(p_channels) c
     WHERE NOT clustered_nodes.may_use_channel(p_cluster, c);
    IF refused IS NOT NULL THEN
        RAISE EXCEPTION 'clustered_nodes: cluster % may not use channel(s) % (bound to another role)',
            p_cluster, refused USING ERRCODE = 'CN003';
    END IF;
    INSERT INTO clustered_nodes.cluster_state AS s
        (cluster, partition, lock_key, term, leader, leader_pid, elected_at, updated_at, lease_until)
    VALUES (p_cluster, p_partition, key, 1, p_node, pg_backend_pid(), now(), now(), now() + lease)
    ON CONFLICT (cluster, partition) DO UPDATE SET term = s.term + 1, leader = excluded.leader,
        leader_pid = excluded.leader_pid, elected_at = excluded.elected_at,
        updated_at = excluded.updated_at, lease_until = excluded.lease_until
    RETURNING s.term, s.counter INTO new_term, new_counter;
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.clusters c
                   WHERE c.cluster = p_cluster AND c.partitions > 1) THEN
        UPDATE clustered_nodes.members m SET role = 'leader', term = new_term, heartbeat_at = now()
         WHERE m.cluster = p_cluster AND m.node = p_node AND m.backend_pid = pg_backend_pid();
    END IF;
    -- A cluster bound to a role claims the free channels it uses for that role.
    IF bound IS NOT NULL THEN
        INSERT INTO clustered_nodes.channel_roles (channel, role)
            SELECT c, bound FROM unnest(p_channels) c ON CONFLICT DO NOTHING;
        DELETE FROM clustered_nodes.subscriptions x
         WHERE x.channel = ANY (p_channels) AND x.cluster <> p_cluster
           AND NOT clustered_nodes.may_use_channel(x.cluster, x.channel);
    END IF;
    DELETE FROM clustered_nodes.subscriptions x
     WHERE x.cluster = p_cluster AND NOT (x.channel = ANY (p_channels));
    INSERT INTO clustered_nodes.subscriptions (cluster, channel)
        SELECT p_cluster, c FROM unnest(p_channels) c
        ON CONFLICT DO NOTHING;
    IF EXISTS (SELECT 1 FROM clustered_nodes.clusters c
               WHERE c.cluster = p_cluster AND c.partitions > 1) THEN
        PERFORM pg_notify('clustered_nodes_fence', p_partition || ':' || new_term);
    END IF;
    term := new_term;
    counter := new_counter;
    RETURN NEXT;
END $$;

-- One step: at most 10,000,000 events, a lease no longer than the cluster allows.
CREATE OR REPLACE FUNCTION clustered_nodes.advance(
    p_cluster text, p_partition integer, p_term bigint, p_counter bigint, p_count bigint,
    p_lease_ms bigint, p_event_ids bigint[])
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    deleted bigint;
BEGIN
    PERFORM clustered_nodes.check_holds_lock(p_cluster, p_partition);
    PERFORM clustered_nodes.check_layout(p_cluster);
    IF p_count IS NULL OR p_count < 0 OR p_count > 10000000
       OR p_counter > 9223372036854775807 - p_count THEN
        RAISE EXCEPTION 'clustered_nodes: a step of % events from counter % is out of range (at most 10000000 a step)',
            p_count, p_counter USING ERRCODE = 'CN001';
    END IF;
    UPDATE clustered_nodes.cluster_state
       SET counter = counter + p_count, updated_at = now(),
           lease_until = greatest(lease_until, now() + clustered_nodes.lease_for(p_cluster, p_lease_ms))
     WHERE cluster = p_cluster AND partition = p_partition AND term = p_term AND counter = p_counter;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'clustered_nodes: term % of partition % of cluster % is not current (or its counter moved)',
            p_term, p_partition, p_cluster USING ERRCODE = 'CN001';
    END IF;
    IF cardinality(p_event_ids) > 0 THEN
        DELETE FROM clustered_nodes.events
         WHERE id = ANY (p_event_ids) AND cluster = p_cluster;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        IF deleted <> cardinality(p_event_ids) THEN
            RAISE EXCEPTION 'clustered_nodes: % of % events of this step are gone',
                cardinality(p_event_ids) - deleted, cardinality(p_event_ids) USING ERRCODE = 'CN001';
        END IF;
    END IF;
    RETURN p_counter;
END $$;

-- ---- members ----
CREATE OR REPLACE FUNCTION clustered_nodes.register(p_cluster text, p_node text, p_host text,
                                                   p_pid integer, p_version text, p_status_url text)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    PERFORM clustered_nodes.check_name('node', p_node);
    INSERT INTO clustered_nodes.members AS m
        (cluster, node, host, pid, version, role, term, started_at, heartbeat_at, backend_pid,
         status_url)
    VALUES (p_cluster, p_node, left(p_host, 255), p_pid, left(p_version, 63), 'standby', NULL,
            now(), now(), pg_backend_pid(), left(p_status_url, 255))
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

-- ---- the lock's holder (for those who may act for the cluster), and ending it ----
CREATE OR REPLACE FUNCTION clustered_nodes.lock_holder(p_cluster text, p_partition integer)
RETURNS TABLE (pid integer, usename text, application_name text, client_addr text, member text,
               superuser boolean)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM clustered_nodes.check_may_act(p_cluster);
    PERFORM clustered_nodes.check_partition(p_cluster, p_partition);
    RETURN QUERY
    SELECT l.pid, coalesce(a.usename::text, ''), coalesce(a.application_name, ''),
           coalesce(host(a.client_addr), 'local'),
           (SELECT m.node FROM clustered_nodes.members m
             WHERE m.cluster = p_cluster AND m.backend_pid = l.pid),
           coalesce((SELECT r.rolsuper FROM pg_roles r WHERE r.oid = a.usesysid), false)
    FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
      AND ((l.classid::int8 << 32) | l.objid::int8) = clustered_nodes.lock_key(p_cluster, p_partition);
END $$;

-- Ends the session holding the partition's lock only if the partition's own row agrees:
-- it is the recorded leader of term p_term and its lease has lapsed (hung; ended whatever
-- its role, a superuser node's session too), or it holds the lock without leading while
-- no other leader's lease is live (a squatter that is no member, or a member stopped
-- after winning; the node calls this only after seeing it hold the lock for
-- lease_timeout).  Never a session waiting for a synchronous standby, never the caller's;
-- a superuser session that is no node of the cluster is named (CN004), never ended by a
-- non-superuser.  True if it ended it.
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

-- ---- reads: a login sees only the clusters it may act for ----
-- The clusters bound to a role the login is not a member of.  The policies below compare
-- each row with this list, computed once per query (an InitPlan: the function is wrapped
-- in a scalar subquery): a definer function called per row cost every partition poll of
-- every node a call per row read, most of a server core at 51 nodes.
CREATE OR REPLACE FUNCTION clustered_nodes.clusters_denied() RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(array_agg(r.cluster), '{}') FROM clustered_nodes.cluster_roles r
     WHERE NOT pg_has_role(session_user, r.role, 'MEMBER')
$$;

ALTER TABLE clustered_nodes.cluster_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE clustered_nodes.members ENABLE ROW LEVEL SECURITY;
ALTER TABLE clustered_nodes.clusters ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS tenant_reads ON clustered_nodes.cluster_state;
DROP POLICY IF EXISTS tenant_reads ON clustered_nodes.members;
DROP POLICY IF EXISTS tenant_reads ON clustered_nodes.clusters;
CREATE POLICY tenant_reads ON clustered_nodes.cluster_state FOR SELECT
    USING (NOT (cluster = ANY (coalesce((SELECT clustered_nodes.clusters_denied()), '{}'))));
CREATE POLICY tenant_reads ON clustered_nodes.members FOR SELECT
    USING (NOT (cluster = ANY (coalesce((SELECT clustered_nodes.clusters_denied()), '{}'))));
CREATE POLICY tenant_reads ON clustered_nodes.clusters FOR SELECT
    USING (NOT (cluster = ANY (coalesce((SELECT clustered_nodes.clusters_denied()), '{}'))));

-- An earlier draft of this file asked may_act() per row in the policies above (dropped
-- only now that no policy depends on it).
DROP FUNCTION IF EXISTS clustered_nodes.may_act(text);

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (10, '010_tenants')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
