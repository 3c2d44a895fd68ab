-- SPDX-License-Identifier: PostgreSQL
-- ClusteredNodes schema version 9: one cluster_state row per partition.
--
-- Apply with:  psql -v ON_ERROR_STOP=1 -f sql/009_partition_rows.sql
-- Needs version 8.  One transaction, idempotent.  Moves cluster_state's primary key
-- from (cluster) to (cluster, partition), so that a cluster can have a row for each of
-- its partitions (--partitions K > 1).  Nodes of 0.1.0 write cluster_state with
-- ON CONFLICT (cluster), which needs the old key: apply this file only once every node
-- runs 0.2 or later (restart them first: standbys, then the leader).  Nodes of this
-- version run on version 8 in the single-leader mode; partitioned ones need this.

SET client_min_messages = warning;

BEGIN;

DO $$ BEGIN PERFORM pg_advisory_xact_lock(7210478915513442304); END $$;

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM clustered_nodes.schema_migrations WHERE version = 8) THEN
        RAISE EXCEPTION 'clustered_nodes: apply sql/008_partitions.sql first';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                   WHERE c.relname = 'cluster_state_pkey' AND i.indnatts = 2) THEN
        ALTER TABLE clustered_nodes.cluster_state DROP CONSTRAINT cluster_state_pkey;
        ALTER TABLE clustered_nodes.cluster_state
            ADD CONSTRAINT cluster_state_pkey PRIMARY KEY USING INDEX cluster_state_cluster_partition;
    END IF;
END $$;

INSERT INTO clustered_nodes.schema_migrations (version, name)
    VALUES (9, '009_partition_rows')
    ON CONFLICT (version) DO NOTHING;

COMMIT;
