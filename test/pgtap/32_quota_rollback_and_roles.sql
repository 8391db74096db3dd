-- Shared memory follows subtransactions: a quota change or a refresh that is
-- rolled back leaves no trace in what the write path sees (top-level
-- ROLLBACK and COMMIT: test/regress/sql/quota_enforcement.sql). And a
-- project's role cannot change itself: ALTER ROLE, ALTER ROLE ... SET and
-- ALTER ROLE ... RENAME are refused for it.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(29);

SELECT lives_ok($$SELECT create_project_schema('qtx', storage_quota => '10 MB')$$, 'project qtx');
SELECT lives_ok($$SELECT create_project_schema('qtx_other', storage_quota => '10 MB')$$, 'project qtx_other');

\ir lib/as_role.sql
CREATE FUNCTION pg_temp.shared(what text) RETURNS text LANGUAGE sql AS $$
    SELECT CASE what WHEN 'state' THEN state WHEN 'quota' THEN quota_bytes::text
                     ELSE written::text END
      FROM schemahost.quota_shared_state() WHERE project = 'qtx' $$;

SELECT is(pg_temp.as_role('qtx', $$CREATE TABLE qtx.t (id serial PRIMARY KEY, v text)$$), 'ok', 'table created');
SELECT is(pg_temp.as_role('qtx', $$INSERT INTO qtx.t (v) SELECT repeat('x', 200) FROM generate_series(1, 500)$$),
          'ok', 'rows written');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage(full => true) WHERE project = 'qtx'), 1::bigint,
          'measured');

-- ------------------------------------------- a lowered quota rolled back
SAVEPOINT lower;
SELECT set_project_quota('qtx', storage_quota => '16 kB');
SELECT is(pg_temp.shared('state'), 'over', 'the transaction that lowers the quota sees the block at once');
SELECT is(left(pg_temp.as_role('qtx', $$INSERT INTO qtx.t (v) VALUES ('x')$$), 5), '53100',
          'and its own writes are refused');
ROLLBACK TO SAVEPOINT lower;
SELECT is(pg_temp.shared('state'), 'ok', 'rolled back: shared memory is ok again');
SELECT is(pg_temp.shared('quota'), (10 * 1024 * 1024)::text, 'with the old quota');
SELECT is(pg_temp.as_role('qtx', $$INSERT INTO qtx.t (v) VALUES ('after rollback')$$), 'ok',
          'a write works after the rollback');

-- ------------------------------------------- a raised quota rolled back
SELECT set_project_quota('qtx', storage_quota => '16 kB');
SAVEPOINT raise;
SELECT set_project_quota('qtx', storage_quota => '10 MB');
SELECT is(pg_temp.shared('state'), 'ok', 'raised inside a savepoint: ok');
ROLLBACK TO SAVEPOINT raise;
SELECT is(pg_temp.shared('state'), 'over', 'rolled back: over again');
SELECT is(left(pg_temp.as_role('qtx', $$INSERT INTO qtx.t (v) VALUES ('x')$$), 5), '53100',
          'and writes are refused again');
SAVEPOINT raise2;
SELECT set_project_quota('qtx', storage_quota => '10 MB');
RELEASE SAVEPOINT raise2;
SELECT is(pg_temp.shared('state'), 'ok', 'a released savepoint keeps its change');
SELECT is(pg_temp.as_role('qtx', $$INSERT INTO qtx.t (v) VALUES ('x')$$), 'ok', 'writes work');

-- ------------------------------------------- a refresh rolled back
SELECT is(pg_temp.shared('written'), 'true', 'the tenant''s write flagged the project');
SAVEPOINT refresh;
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qtx'), 1::bigint,
          'an incremental refresh takes the flag');
SELECT is(pg_temp.shared('written'), 'false', 'and clears it');
ROLLBACK TO SAVEPOINT refresh;
SELECT is(pg_temp.shared('written'), 'true', 'rolled back: the flag is set again');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qtx'), 1::bigint,
          'so the next refresh still measures the project');

-- ------------------------------------------- tenants and their role
SELECT is(pg_temp.as_role('qtx', $$ALTER ROLE CURRENT_USER PASSWORD 'chosen-by-tenant'$$),
          '42501 project "qtx" may not alter roles', 'ALTER ROLE ... PASSWORD is refused');
SELECT is(pg_temp.as_role('qtx', $$ALTER USER qtx WITH CONNECTION LIMIT 100$$),
          '42501 project "qtx" may not alter roles', 'ALTER USER is refused');
SELECT is(pg_temp.as_role('qtx', $$ALTER ROLE CURRENT_USER SET statement_timeout = 0$$),
          '42501 project "qtx" may not alter roles', 'ALTER ROLE ... SET is refused');
SELECT is(pg_temp.as_role('qtx', $$ALTER ROLE qtx IN DATABASE postgres RESET ALL$$),
          '42501 project "qtx" may not alter roles', 'ALTER ROLE ... IN DATABASE ... RESET is refused');
SELECT is(pg_temp.as_role('qtx', $$ALTER ROLE qtx RENAME TO qtx_renamed$$),
          '42501 project "qtx" may not alter roles', 'ALTER ROLE ... RENAME is refused');
SELECT is(pg_temp.as_role('qtx_other', $$ALTER ROLE CURRENT_USER SET work_mem = '1GB'$$),
          '42501 project "qtx_other" may not alter roles', 'the message names the project');
SELECT lives_ok($$ALTER ROLE qtx SET work_mem = '8MB'$$, 'the operator still alters project roles');
SELECT is((SELECT count(*) FROM pg_catalog.pg_db_role_setting s JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
            WHERE r.rolname = 'qtx' AND 'statement_timeout=0' = ANY (s.setconfig)), 0::bigint,
          'the tenant''s setting was not stored');

SELECT lives_ok($$SELECT drop_project_schema('qtx', purge => true)$$, 'cleanup qtx');
SELECT * FROM finish();
ROLLBACK;
