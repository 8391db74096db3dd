-- Quota states: the transitions and their hysteresis, one event per
-- transition (in the same transaction), the project_usage view, the shared
-- memory mirror, quota_sync after provisioning changes, and who may call what.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(61);

-- --------------------------------------------------- the state function
-- warn 80, release 95; warning clears below 75.
SELECT is(schemahost.quota_next_state('ok', 79, 100, 80, 95), 'ok', 'ok below warn_percent');
SELECT is(schemahost.quota_next_state('ok', 80, 100, 80, 95), 'warning', 'ok -> warning at warn_percent');
SELECT is(schemahost.quota_next_state('ok', 100, 100, 80, 95), 'over', 'ok -> over at 100%');
SELECT is(schemahost.quota_next_state('warning', 76, 100, 80, 95), 'warning', 'warning holds down to warn-5');
SELECT is(schemahost.quota_next_state('warning', 74, 100, 80, 95), 'ok', 'warning -> ok below warn-5');
SELECT is(schemahost.quota_next_state('warning', 99, 100, 80, 95), 'warning', 'warning below 100%');
SELECT is(schemahost.quota_next_state('over', 99, 100, 80, 95), 'over', 'over holds at 99%');
SELECT is(schemahost.quota_next_state('over', 95, 100, 80, 95), 'over', 'over holds at release_percent');
SELECT is(schemahost.quota_next_state('over', 94, 100, 80, 95), 'warning', 'over -> warning below release_percent');
SELECT is(schemahost.quota_next_state('over', 76, 100, 80, 95), 'warning', 'over -> warning inside the warning band');
SELECT is(schemahost.quota_next_state('over', 10, 100, 80, 95), 'ok', 'over -> ok when far below');
SELECT is(schemahost.quota_next_state('ok', 9223372036854775807, 9223372036854775807, 80, 95), 'over',
          'no overflow at the bigint limit');
-- The bigint shortcut for "well under every threshold" gives what the
-- numeric comparisons give, on every boundary: all states, used around each
-- threshold of quotas that are and are not multiples of 100, odd settings
-- (release below warn - 5, warn below 5, out of the GUCs' ranges up to the
-- integer limits), and the bigint limit.
SELECT is((SELECT count(*)
             FROM unnest(ARRAY['ok', 'warning', 'over']) AS o(st),
                  unnest(ARRAY[100, 101, 199, 1000, 12345, 9223372036854775807]::bigint[]) AS q(quota),
                  unnest(ARRAY[-2147483648, 1, 4, 5, 6, 50, 74, 75, 76, 80, 94, 95, 99, 2147483647]) AS w(warn),
                  unnest(ARRAY[-2147483648, -10, 0, 50, 60, 95, 99, 150, 2147483647]) AS r(rel),
                  generate_series(0, 101) AS pct,
                  unnest(ARRAY[-1, 0, 1]::bigint[]) AS d(delta),
                  LATERAL (SELECT least(floor(quota::numeric * pct / 100) + delta,
                                        9223372036854775807)::bigint AS used) AS u
            WHERE used >= 0
              AND schemahost.quota_next_state(st, used, quota, warn, rel) IS DISTINCT FROM
                  CASE WHEN used >= quota THEN 'over'
                       WHEN st = 'over' AND used::numeric * 100 >= quota::numeric * rel THEN 'over'
                       WHEN used::numeric * 100 >= quota::numeric * warn THEN 'warning'
                       WHEN st IN ('warning', 'over')
                            AND used::numeric * 100 >= quota::numeric * greatest(warn - 5, 0) THEN 'warning'
                       ELSE 'ok' END),
          0::bigint, 'the bigint shortcut agrees with the numeric comparisons everywhere');

-- ---------------------------------------------------------- a project
SELECT lives_ok($$SELECT create_project_schema('qstate', storage_quota => '10 MB')$$, 'project created');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qstate'), 'ok',
          'a new project is in shared memory at once');
SET ROLE qstate;
CREATE TABLE qstate.t (id serial PRIMARY KEY, v text);
INSERT INTO qstate.t (v) SELECT repeat('x', 200) FROM generate_series(1, 2000);
RESET ROLE;
SELECT is((SELECT written FROM schemahost.quota_shared_state() WHERE project = 'qstate'), true,
          'the tenant''s writes flag the project for the next incremental refresh');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qstate'), 1::bigint,
          'the incremental refresh measures the written project');
SELECT is((SELECT written FROM schemahost.quota_shared_state() WHERE project = 'qstate'), false,
          'and clears the flag');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qstate'), 0::bigint,
          'an ok project that was not written is not measured again');
CREATE TEMP TABLE measured AS SELECT used_bytes FROM project_usage WHERE name = 'qstate';
SELECT cmp_ok((SELECT used_bytes FROM measured), '>', 400000::bigint, 'usage measured');

CREATE FUNCTION pg_temp.set_percent(pct numeric) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_project_quota('qstate',
        storage_quota => ceil((SELECT used_bytes FROM measured) * 100 / pct)::bigint::text);
    RETURN (SELECT state FROM project_usage WHERE name = 'qstate');
END $$;
CREATE FUNCTION pg_temp.events() RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(kind, ',' ORDER BY id), '') FROM schemahost.event
     WHERE project = 'qstate' AND kind LIKE 'quota%' $$;

-- --------------------------------------- transitions, one event each
SELECT is(pg_temp.events(), '', 'no event while ok');
SELECT is(pg_temp.set_percent(85), 'warning', '85%: warning');
SELECT is(pg_temp.events(), 'quota_warning', 'one quota_warning event');
SELECT is((SELECT payload->>'used_bytes' FROM schemahost.event WHERE project = 'qstate' ORDER BY id DESC LIMIT 1),
          (SELECT used_bytes::text FROM measured), 'payload has used_bytes');
SELECT is((SELECT (payload->>'quota_bytes')::bigint FROM schemahost.event WHERE project = 'qstate' ORDER BY id DESC LIMIT 1),
          (SELECT quota_bytes FROM project_usage WHERE name = 'qstate'), 'payload has quota_bytes');
SELECT ok((SELECT (payload->>'percent')::numeric BETWEEN 84 AND 85 FROM schemahost.event
            WHERE project = 'qstate' ORDER BY id DESC LIMIT 1), 'payload has percent');
SELECT is(pg_temp.set_percent(77), 'warning', '77%: still warning (hysteresis)');
SELECT is(pg_temp.events(), 'quota_warning', 'no event without a transition');
SELECT is(pg_temp.set_percent(70), 'ok', '70%: back to ok');
SELECT is(pg_temp.set_percent(110), 'over', '110%: over');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qstate'), 'over',
          'shared memory says over at once');
SELECT is(pg_temp.set_percent(97), 'over', '97%: still over (release at 95%)');
SELECT is(pg_temp.set_percent(90), 'warning', '90%: released into warning');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qstate'), 'warning',
          'shared memory follows');
SELECT is(pg_temp.set_percent(30), 'ok', '30%: ok');
SELECT is(pg_temp.events(), 'quota_warning,quota_ok,quota_over,quota_warning,quota_ok',
          'exactly one event per transition');
SET LOCAL schemahost.release_percent = 60;
SELECT is(pg_temp.set_percent(150), 'over', 'over again');
SELECT is(pg_temp.set_percent(70), 'over', 'release_percent is configurable (70% >= 60%)');
RESET schemahost.release_percent;

-- ------------------------------------------------- refresh and the view
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qstate'), 1::bigint,
          'a project that is not ok is measured on every incremental refresh');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage(full => true) WHERE project = 'qstate'), 1::bigint,
          'full refresh measures it');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage(full => true)),
          (SELECT count(*) FROM schemahost.project WHERE schema_oid IS NOT NULL),
          'full refresh measures every project');
SELECT is((SELECT array_agg(attname::text ORDER BY attnum) FROM pg_attribute
            WHERE attrelid = 'project_usage'::regclass AND attnum > 0),
          ARRAY['name', 'used_bytes', 'quota_bytes', 'percent', 'state', 'measured_at'], 'view columns');
SELECT is((SELECT percent FROM project_usage WHERE name = 'qstate'),
          (SELECT round(100.0 * used_bytes / quota_bytes, 1) FROM project_usage WHERE name = 'qstate'),
          'percent is used/quota');
SELECT isnt((SELECT measured_at FROM project_usage WHERE name = 'qstate'), NULL, 'measured_at set');

-- --------------------------------------------- drift: the full refresh
-- A project registered without schemahost.quota_sync() (say, by hand):
-- unknown to shared memory, so only the full refresh finds it.
CREATE SCHEMA qhand;
CREATE TABLE qhand.t AS SELECT g FROM generate_series(1, 1000) g;
INSERT INTO schemahost.project (name, schema_oid, storage_quota_bytes, max_connections)
VALUES ('qhand', 'qhand'::regnamespace, 10000000, 5);
SELECT is((SELECT count(*) FROM schemahost_refresh_usage() WHERE project = 'qhand'), 0::bigint,
          'an incremental refresh does not know an unsynced project');
SELECT is((SELECT used_bytes FROM schemahost_refresh_usage(full => true) WHERE project = 'qhand'),
          pg_total_relation_size('qhand.t'), 'the full refresh measures it');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qhand'), 'ok',
          'and publishes it to shared memory');
DELETE FROM schemahost.project WHERE name = 'qhand';
SELECT is((SELECT count(*) FROM schemahost_refresh_usage(full => true) WHERE project = 'qhand'), 0::bigint,
          'a project gone from the registry is not measured');
SELECT is((SELECT count(*) FROM schemahost.quota_shared_state() WHERE project = 'qhand'), 0::bigint,
          'the full refresh drops its shared-memory entry');
SELECT is((SELECT count(*) FROM schemahost.usage WHERE project = 'qhand'), 0::bigint,
          'and its usage row');

-- ------------------------------------------------------------- access
SELECT ok(has_function_privilege('schemahost_daemon', 'schemahost_refresh_usage(boolean)', 'EXECUTE'),
          'the daemon may refresh');
SELECT ok(has_function_privilege('schemahost_admin', 'schemahost_refresh_usage(boolean)', 'EXECUTE'),
          'the operator may refresh');
SELECT ok(NOT has_function_privilege('qstate', 'schemahost_refresh_usage(boolean)', 'EXECUTE'),
          'a tenant may not refresh');
SELECT ok(NOT has_table_privilege('qstate', 'project_usage', 'SELECT'), 'a tenant cannot read project_usage');
SELECT ok(has_table_privilege('schemahost_daemon', 'project_usage', 'SELECT'), 'the daemon can');

-- ----------------------------------------------------------- purge
SELECT lives_ok($$SELECT drop_project_schema('qstate', purge => true)$$, 'purged');
SELECT is((SELECT count(*) FROM schemahost.quota_shared_state() WHERE project = 'qstate'), 0::bigint,
          'the purge removed the project from shared memory');

-- quota_next_state is inlined into the refresh query (0.1.1 dropped STRICT,
-- which kept it from being inlined) and still gives NULL for NULL input.
SELECT is(schemahost.quota_next_state(NULL, 1, 100, 80, 95), NULL, 'NULL state gives NULL');
SELECT is(schemahost.quota_next_state('ok', NULL, 100, 80, 95), NULL, 'NULL usage gives NULL');
SELECT is((SELECT p.proisstrict FROM pg_proc p WHERE p.oid = 'schemahost.quota_next_state'::regproc),
          false, 'quota_next_state is not STRICT, so the planner inlines it');

-- _usage_measure's planner support estimates one row per project asked for.
CREATE FUNCTION pg_temp.plan_rows(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE plan json;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || q INTO plan;
    RETURN (plan -> 0 -> 'Plan' ->> 'Plan Rows')::numeric;
END $$;
SELECT is(pg_temp.plan_rows($$SELECT * FROM schemahost._usage_measure('{1,2,3,4,5,6,7}'::oid[], false)$$),
          7::numeric, '_usage_measure is estimated at one row per array element');

SELECT * FROM finish();
ROLLBACK;
