-- Restart persistence, second half (after quota_restart_setup and a server
-- restart by scripts/run-tests.sh; nothing has refreshed usage since): the
-- states are kept, the over project is blocked from its very first write,
-- and freeing space still works.
\set VERBOSITY default
SET client_min_messages = warning;
SELECT pg_postmaster_start_time() > started AS restarted FROM public.restart_marker;
SELECT schemahost.quota_enforcement_active();
SELECT name, state FROM project_usage WHERE name LIKE 'restart\_%' ORDER BY name;
SELECT project, state FROM schemahost.quota_shared_state()
 WHERE project LIKE 'restart\_%' ORDER BY project;
-- The first statements of the over project's role since the restart.
SET ROLE restart_over;
INSERT INTO restart_over.t VALUES (1000, 'x');
CREATE TABLE restart_over.t2 (a integer);
SELECT count(*) FROM restart_over.t;
RESET ROLE;
-- A project in warning writes as before.
SET ROLE restart_warn;
INSERT INTO restart_warn.t VALUES (1000, 'x');
RESET ROLE;
-- Freeing space works, and the next refresh lets writes back in.
SET ROLE restart_over;
TRUNCATE restart_over.t;
DROP TABLE restart_over.t;
RESET ROLE;
SELECT project, used_bytes FROM schemahost_refresh_usage() WHERE project = 'restart_over';
SELECT name, state FROM project_usage WHERE name = 'restart_over';
SET ROLE restart_over;
CREATE TABLE restart_over.t2 (a integer);
INSERT INTO restart_over.t2 VALUES (1);
RESET ROLE;
DROP TABLE public.restart_marker;
SELECT drop_project_schema('restart_over', purge => true);
SELECT drop_project_schema('restart_warn', purge => true);
