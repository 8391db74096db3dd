-- Restart persistence, first half: leave one project over its quota and one
-- in warning; scripts/run-tests.sh then restarts the server and runs
-- quota_restart_check (test/regress/schedule_after_restart), where the over
-- project's very first write must be refused, before any refresh.
SET client_min_messages = warning;
SELECT project FROM create_project_schema('restart_over', storage_quota => '10 MB');
SELECT project FROM create_project_schema('restart_warn', storage_quota => '10 MB');
SET ROLE restart_over;
CREATE TABLE restart_over.t (id integer PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
INSERT INTO restart_over.t SELECT g, 'row ' || g FROM generate_series(1, 200) g;
RESET ROLE;
SET ROLE restart_warn;
CREATE TABLE restart_warn.t (id integer PRIMARY KEY, v text) WITH (autovacuum_enabled = off);
INSERT INTO restart_warn.t SELECT g, repeat('x', 1000) FROM generate_series(1, 200) g;
RESET ROLE;
SELECT count(*) FROM schemahost_refresh_usage(full => true)
 WHERE project IN ('restart_over', 'restart_warn');
-- Quotas just below and just above usage: over, and warning (80 % to 100 %).
SELECT set_project_quota('restart_over', storage_quota => '16 kB');
SELECT set_project_quota('restart_warn', storage_quota => (SELECT (used_bytes + used_bytes / 10)::text
                                                             FROM project_usage
                                                            WHERE name = 'restart_warn'));
SELECT name, state FROM project_usage WHERE name LIKE 'restart\_%' ORDER BY name;
-- The check proves the server really restarted in between.
CREATE TABLE public.restart_marker AS SELECT pg_postmaster_start_time() AS started;
