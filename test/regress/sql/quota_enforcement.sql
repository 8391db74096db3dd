-- Storage quota enforcement: every write path refused while a project is over
-- its quota (SQLSTATE 53100, message naming the project, detail with the
-- sizes, hint), everything that frees space still allowed, and writes back by
-- themselves once usage is under the release threshold.
\set VERBOSITY default
SET client_min_messages = warning;
SELECT schemahost.quota_enforcement_active();
SELECT project FROM create_project_schema('quota_rg', storage_quota => '10 MB');

SET ROLE quota_rg;
SET search_path = quota_rg, public;
-- autovacuum off: the sizes in the error details stay the same on every run.
CREATE TABLE t (id integer PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 200) g;
CREATE TABLE other (a integer) WITH (autovacuum_enabled = off);
CREATE FUNCTION add_row(i integer) RETURNS void LANGUAGE sql AS $$ INSERT INTO t VALUES (i, 'f') $$;
CREATE PROCEDURE add_row_proc(i integer) LANGUAGE plpgsql AS $$ BEGIN INSERT INTO t VALUES (i, 'p'); END $$;
PREPARE ins(integer) AS INSERT INTO t VALUES ($1, 'prepared');
CREATE MATERIALIZED VIEW mv AS SELECT count(*) FROM t;
RESET ROLE;

SELECT project, used_bytes > 0 AS measured FROM schemahost_refresh_usage(full => true)
 WHERE project = 'quota_rg';
SELECT state FROM project_usage WHERE name = 'quota_rg';

-- The operator lowers the quota below usage: the project is over at once.
SELECT set_project_quota('quota_rg', storage_quota => '16 kB');
SELECT state FROM project_usage WHERE name = 'quota_rg';
SELECT kind FROM schemahost.event WHERE project = 'quota_rg' AND kind LIKE 'quota%' ORDER BY id;

SET ROLE quota_rg;
-- Refused: DML that adds rows or row versions.
INSERT INTO t VALUES (1000, 'x');
INSERT INTO t VALUES (1, 'x') ON CONFLICT (id) DO UPDATE SET v = 'y';
INSERT INTO t VALUES (1, 'x') ON CONFLICT DO NOTHING;
UPDATE t SET v = 'z' WHERE id = 1;
MERGE INTO t USING (SELECT 1 AS id) s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = 'm';
MERGE INTO t USING (SELECT 5000 AS id) s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (5000, 'm');
COPY t FROM stdin;
\.
-- Hidden writes: functions, procedures, prepared statements, DO, CTEs.
SELECT add_row(1001);
CALL add_row_proc(1002);
EXECUTE ins(1003);
DO $$ BEGIN INSERT INTO quota_rg.t VALUES (1004, 'do'); END $$;
WITH moved AS (DELETE FROM t WHERE id = 2 RETURNING *) INSERT INTO t SELECT id + 10000, v FROM moved;
WITH changed AS (UPDATE t SET v = 'cte' WHERE id = 3 RETURNING 1) SELECT count(*) FROM changed;
-- Refused: DDL that creates or rewrites storage.
CREATE TABLE t2 (a integer);
CREATE TABLE t3 AS SELECT 1 AS a;
SELECT 1 AS a INTO t4;
CREATE INDEX ON t (v);
CREATE MATERIALIZED VIEW mv2 AS SELECT 1 AS a;
REFRESH MATERIALIZED VIEW mv;
CREATE SEQUENCE s;
ALTER TABLE t ADD COLUMN w integer;
ALTER TABLE t ALTER COLUMN v TYPE varchar(100);
ALTER TABLE t ADD CONSTRAINT id_unique UNIQUE (id);
ALTER TABLE t SET UNLOGGED;
CLUSTER t USING t_pkey;
VACUUM FULL t;
VACUUM (FULL) other;
REINDEX TABLE t;
REINDEX INDEX t_pkey;
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE t5 AS SELECT 1 AS a;
-- Refused: DDL that adds catalog content (test/pgtap/33_quota_catalog_ddl.sql).
CREATE VIEW v AS SELECT id FROM t;
COMMENT ON TABLE t IS 'catalog content';
ANALYZE t;
-- Allowed: reading, row locks, and everything that frees space.
SELECT count(*) FROM t;
SELECT id FROM t WHERE id = 1 FOR UPDATE;
DELETE FROM t WHERE id > 150;
MERGE INTO t USING (SELECT 150 AS id) s ON t.id = s.id WHEN MATCHED THEN DELETE;
VACUUM t;
ALTER TABLE t RENAME COLUMN v TO val;
ALTER TABLE t RENAME COLUMN val TO v;
COMMENT ON TABLE t IS NULL;
-- TRUNCATE, also twice in one transaction; but not in another
-- subtransaction of it (each would keep one more set of files until the end).
BEGIN;
TRUNCATE other;
TRUNCATE other;
SAVEPOINT s;
TRUNCATE other;
ROLLBACK TO SAVEPOINT s;
COMMIT;
TRUNCATE other;
DROP TABLE other;
DROP MATERIALIZED VIEW mv;
RESET ROLE;

-- The operator's own writes into the project's schema are refused too: the
-- check is on the target schema, not only on the role.
INSERT INTO quota_rg.t VALUES (2000, 'admin');
REINDEX SCHEMA quota_rg;
-- EXPLAIN ANALYZE runs the CREATE TABLE AS it explains; plain EXPLAIN does not.
EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) CREATE TABLE quota_rg.op_explain AS SELECT 1 AS a;
EXPLAIN (COSTS OFF) CREATE TABLE quota_rg.op_explain AS SELECT 1 AS a;
SELECT to_regclass('quota_rg.op_explain') IS NULL AS not_created;

-- Back under the release threshold: writes work again without anyone acting
-- on the project itself.
SELECT set_project_quota('quota_rg', storage_quota => '10 MB');
SELECT state FROM project_usage WHERE name = 'quota_rg';
SET ROLE quota_rg;
INSERT INTO t VALUES (1000, 'x');
CREATE TABLE t2 (a integer);
VACUUM FULL t;
RESET ROLE;
SELECT kind, payload->>'previous_state' AS previous FROM schemahost.event
 WHERE project = 'quota_rg' AND kind LIKE 'quota%' ORDER BY id;

-- Shared memory follows transactions. A lowered quota that is rolled back
-- leaves no block behind (the transaction itself saw it at once).
BEGIN;
SELECT set_project_quota('quota_rg', storage_quota => '16 kB');
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
SAVEPOINT s;
INSERT INTO quota_rg.t VALUES (3000, 'inside');
ROLLBACK TO SAVEPOINT s;
ROLLBACK;
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
SET ROLE quota_rg;
INSERT INTO t VALUES (3001, 'after rollback');
RESET ROLE;
-- The opposite: over, and a raised quota that is rolled back keeps it over.
SELECT set_project_quota('quota_rg', storage_quota => '16 kB');
BEGIN;
SELECT set_project_quota('quota_rg', storage_quota => '10 MB');
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
ROLLBACK;
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
SET ROLE quota_rg;
INSERT INTO t VALUES (3002, 'still over');
RESET ROLE;
-- A transaction that fails after the change: same as a rollback.
BEGIN;
SELECT set_project_quota('quota_rg', storage_quota => '10 MB');
SELECT 1 / 0;
COMMIT;
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
-- Committed, the change stays.
BEGIN;
SELECT set_project_quota('quota_rg', storage_quota => '10 MB');
COMMIT;
SELECT state FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
SET ROLE quota_rg;
INSERT INTO t VALUES (3003, 'released');
RESET ROLE;
-- Two-phase commit cannot carry a shared-memory change.
BEGIN;
SELECT set_project_quota('quota_rg', storage_quota => '20 MB');
PREPARE TRANSACTION 'quota_rg_2pc';
SELECT quota_bytes FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';

RESET search_path;
DEALLOCATE ins;
SELECT drop_project_schema('quota_rg', purge => true);
SELECT count(*) FROM schemahost.quota_shared_state() WHERE project = 'quota_rg';
