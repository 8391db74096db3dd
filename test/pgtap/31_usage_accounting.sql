-- Usage accounting: what counts (tables with every fork, TOAST, indexes,
-- sequences, materialized views, partitions, unlogged tables with their init
-- fork), charged by the schema a relation is in now, through rewrites that
-- give it new files, in both the incremental and the full refresh. Temporary
-- tables and large objects are impossible for tenants.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(42);

SELECT lives_ok($$SELECT create_project_schema('qacct', storage_quota => '100 MB')$$, 'project qacct');
SELECT lives_ok($$SELECT create_project_schema('qacct2', storage_quota => '100 MB')$$, 'project qacct2');

-- What Postgres itself says the schema holds (these functions take locks;
-- fine in a test, never in the measurement).
CREATE FUNCTION pg_temp.expected(nsp text) RETURNS bigint LANGUAGE sql AS $$
    SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = nsp AND c.relkind IN ('r', 'm', 'S') $$;
CREATE FUNCTION pg_temp.incremental(p text) RETURNS bigint LANGUAGE sql AS $$
    SELECT used_bytes FROM schemahost_refresh_usage() WHERE project = p $$;
CREATE FUNCTION pg_temp.full_refresh(p text) RETURNS bigint LANGUAGE sql AS $$
    SELECT used_bytes FROM schemahost_refresh_usage(full => true) WHERE project = p $$;
\ir lib/as_role.sql

SELECT is(pg_temp.full_refresh('qacct'), 0::bigint, 'an empty project uses 0 bytes');

SET ROLE qacct;
SET search_path = qacct;
CREATE TABLE docs (id bigserial PRIMARY KEY, body text);
CREATE INDEX docs_body ON docs (md5(body));
-- Incompressible values over 2 kB: they go to TOAST.
INSERT INTO docs (body)
SELECT string_agg(md5(g::text || ':' || i::text), '') FROM generate_series(1, 40) g,
       generate_series(1, 60) i GROUP BY i;
CREATE UNLOGGED TABLE scratch (a integer, b text);
INSERT INTO scratch SELECT g, 'x' FROM generate_series(1, 1000) g;
CREATE MATERIALIZED VIEW doc_count AS SELECT count(*) AS n FROM docs;
CREATE TABLE events (at date NOT NULL, what text) PARTITION BY RANGE (at);
CREATE TABLE events_2024 PARTITION OF events FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
INSERT INTO events SELECT date '2024-06-01' + g % 400, 'e' FROM generate_series(1, 3000) g;
RESET search_path;
RESET ROLE;

SELECT cmp_ok((SELECT pg_total_relation_size(reltoastrelid) FROM pg_class WHERE oid = 'qacct.docs'::regclass),
              '>', 0::bigint, 'the test data does reach TOAST');
SELECT ok(EXISTS (SELECT 1 FROM pg_class WHERE oid = 'qacct.scratch'::regclass AND relpersistence = 'u'),
          'scratch is unlogged');
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'),
          'incremental: tables, TOAST, indexes, sequence, matview, partitions, unlogged');
SELECT is(pg_temp.full_refresh('qacct'), pg_temp.expected('qacct'), 'full: the same bytes');
SELECT cmp_ok(pg_temp.expected('qacct'),
              '>=', pg_total_relation_size('qacct.docs') + pg_total_relation_size('qacct.scratch')
                    + pg_relation_size('qacct.scratch', 'init'),
              'the unlogged table''s init fork is included');

-- The measurement follows new files.
-- (VACUUM FULL cannot run in this transaction: test/integration/test_quota.py.)
SET ROLE qacct;
CLUSTER qacct.docs USING docs_pkey;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after CLUSTER');
SET ROLE qacct;
REINDEX TABLE qacct.docs;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after REINDEX');
SET ROLE qacct;
ALTER TABLE qacct.scratch ALTER COLUMN a TYPE bigint;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after a rewriting ALTER TABLE');
SET ROLE qacct;
TRUNCATE qacct.events;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after TRUNCATE');
SET ROLE qacct;
REFRESH MATERIALIZED VIEW qacct.doc_count;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after REFRESH MATERIALIZED VIEW');
SELECT is(pg_temp.full_refresh('qacct'), pg_temp.expected('qacct'), 'full agrees after the rewrites');

-- Charged by the schema a relation is in now, not by its owner.
CREATE TEMP TABLE before AS
    SELECT (SELECT used_bytes FROM project_usage WHERE name = 'qacct') AS a,
           (SELECT used_bytes FROM project_usage WHERE name = 'qacct2') AS b;
-- Moves the table with its indexes, TOAST table and owned sequence.
ALTER TABLE qacct.docs SET SCHEMA qacct2;
CREATE TEMP TABLE after AS SELECT * FROM schemahost_refresh_usage();
SELECT is((SELECT used_bytes FROM after WHERE project = 'qacct'), pg_temp.expected('qacct'),
          'SET SCHEMA: the incremental refresh takes the table off the old project');
SELECT is((SELECT used_bytes FROM after WHERE project = 'qacct2'), pg_temp.expected('qacct2'),
          'and charges it to the new one');
SELECT is((SELECT a + b FROM before), pg_temp.expected('qacct') + pg_temp.expected('qacct2'),
          'nothing lost or counted twice');
SELECT is(pg_temp.full_refresh('qacct2'), pg_temp.expected('qacct2'), 'full agrees');
ALTER TABLE qacct2.docs OWNER TO qacct;
SELECT is(pg_temp.full_refresh('qacct2'), pg_temp.expected('qacct2'), 'OWNER TO changes nothing');
SELECT is(pg_temp.full_refresh('qacct'), pg_temp.expected('qacct'), 'nor for the owner''s project');

-- DROP frees the bytes.
SET ROLE qacct;
DROP TABLE qacct.scratch;
RESET ROLE;
SELECT is(pg_temp.incremental('qacct'), pg_temp.expected('qacct'), 'after DROP TABLE');

-- ------------------------------------- temporary tables and large objects
SELECT is(pg_temp.as_role('qacct', 'CREATE TEMP TABLE tt (a integer)'),
          '42501 temporary tables are not available to project "qacct"', 'CREATE TEMP TABLE refused');
SELECT is(pg_temp.as_role('qacct', 'CREATE TABLE pg_temp.tt (a integer)'),
          '42501 temporary tables are not available to project "qacct"', 'CREATE TABLE pg_temp.x refused');
SELECT is(pg_temp.as_role('qacct', 'CREATE TEMP TABLE tt AS SELECT 1'),
          '42501 temporary tables are not available to project "qacct"', 'CREATE TEMP TABLE AS refused');
SELECT is(pg_temp.as_role('qacct', 'SELECT 1 INTO TEMP tt'),
          '42501 temporary tables are not available to project "qacct"', 'SELECT INTO TEMP refused');
SELECT is(pg_temp.as_role('qacct', 'CREATE TEMP SEQUENCE ts'),
          '42501 temporary tables are not available to project "qacct"', 'CREATE TEMP SEQUENCE refused');
SELECT is(pg_temp.as_role('qacct', 'SELECT lo_create(0)'),
          '42501 large objects are not available to project "qacct"', 'lo_create refused');
SELECT is(pg_temp.as_role('qacct', 'SELECT lo_from_bytea(0, ''\x00'')'),
          '42501 large objects are not available to project "qacct"', 'lo_from_bytea refused');
SELECT is(pg_temp.as_role('qacct', 'SELECT lo_creat(-1)'),
          '42501 large objects are not available to project "qacct"', 'lo_creat refused');
-- However the temporary schema is reached: first on the search_path, by its
-- real name pg_temp_N, or under EXPLAIN ANALYZE.
SET search_path = pg_temp, public;
SELECT is(pg_temp.as_role('qacct', 'CREATE TABLE tx (a integer)'),
          '42501 temporary tables are not available to project "qacct"',
          'CREATE TABLE with pg_temp first on the search_path refused');
SELECT is(pg_temp.as_role('qacct', 'CREATE TABLE tx AS SELECT 1 AS a'),
          '42501 temporary tables are not available to project "qacct"',
          'CREATE TABLE AS with pg_temp first on the search_path refused');
RESET search_path;
SELECT is(pg_temp.as_role('qacct', format('CREATE TABLE %I.tx (a integer)', pg_my_temp_schema()::regnamespace)),
          '42501 temporary tables are not available to project "qacct"',
          'CREATE TABLE in pg_temp_N by name refused');
SELECT is(pg_temp.as_role('qacct', 'EXPLAIN ANALYZE CREATE TEMP TABLE tx AS SELECT 1 AS a'),
          '42501 temporary tables are not available to project "qacct"',
          'EXPLAIN ANALYZE CREATE TEMP TABLE AS refused');
-- REFRESH MATERIALIZED VIEW CONCURRENTLY works through a temporary table, so
-- it is refused too, with a message that names it; a plain REFRESH works
-- (docs/quotas.md).
SELECT is(pg_temp.as_role('qacct', 'CREATE MATERIALIZED VIEW qacct.mvc AS SELECT 1 AS a'), 'ok',
          'a materialized view');
SELECT is(pg_temp.as_role('qacct', 'CREATE UNIQUE INDEX ON qacct.mvc (a)'), 'ok', 'with a unique index');
SELECT is(pg_temp.as_role('qacct', 'REFRESH MATERIALIZED VIEW CONCURRENTLY qacct.mvc'),
          '42501 REFRESH MATERIALIZED VIEW CONCURRENTLY is not available to project "qacct"',
          'REFRESH MATERIALIZED VIEW CONCURRENTLY refused');
SELECT is(pg_temp.as_role('qacct', 'REFRESH MATERIALIZED VIEW qacct.mvc'), 'ok',
          'plain REFRESH MATERIALIZED VIEW allowed');
SELECT is(pg_temp.as_role('qacct', 'CREATE TEMP VIEW tv AS SELECT 1'), 'ok',
          'a temp view has no storage and stays allowed');
SELECT lives_ok($$CREATE TEMP TABLE operator_scratch (a integer)$$, 'roles outside projects keep temp tables');
SELECT isnt(lo_create(0), 0::oid, 'and large objects');

-- A schema named twice is measured once: both rows carry the full mode's total.
SELECT is((SELECT array_agg(DISTINCT m.bytes) FROM schemahost._usage_measure(
               ARRAY['qacct'::regnamespace::oid, 'qacct'::regnamespace::oid], false) m),
          (SELECT array_agg(m.bytes) FROM schemahost._usage_measure(ARRAY['qacct'::regnamespace::oid], true) m),
          'a repeated schema is counted once (incremental mode)');
SELECT is((SELECT count(*) FROM schemahost._usage_measure(
               ARRAY['qacct'::regnamespace::oid, 'qacct'::regnamespace::oid], false)),
          2::bigint, 'one row per element of the array');

SELECT * FROM finish();
ROLLBACK;
