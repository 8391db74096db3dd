-- The project lifecycle: suspend, resume, quotas, password reset, drop with
-- grace, restore, purge (nothing left), refusal when others depend on it,
-- unknown projects, the daemon's purge, and who may call what.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(71);

SELECT lives_ok($$SELECT create_project_schema('blog', 'o@example.com')$$, 'blog created');
CREATE FUNCTION pg_temp.state(p text) RETURNS text LANGUAGE sql AS
    $$ SELECT state FROM schemahost.project WHERE name = p $$;
CREATE FUNCTION pg_temp.can_login(p text) RETURNS boolean LANGUAGE sql AS
    $$ SELECT rolcanlogin FROM pg_roles WHERE rolname = p $$;
CREATE FUNCTION pg_temp.last_event(p text) RETURNS text LANGUAGE sql AS
    $$ SELECT kind FROM schemahost.event WHERE project = p ORDER BY id DESC LIMIT 1 $$;

-- ------------------------------------------------------ suspend / resume
SELECT lives_ok($$SELECT suspend_project('blog')$$, 'suspend_project');
SELECT is(pg_temp.state('blog'), 'suspended', 'state suspended');
SELECT is(pg_temp.can_login('blog'), false, 'login turned off');
SELECT is(pg_temp.last_event('blog'), 'suspended', 'event suspended written');
SELECT throws_ok($$SELECT suspend_project('blog')$$, '55000', NULL, 'suspending twice: 55000');
SELECT lives_ok($$SELECT resume_project('blog')$$, 'resume_project');
SELECT is(pg_temp.state('blog'), 'active', 'state active');
SELECT is(pg_temp.can_login('blog'), true, 'login back on');
SELECT is(pg_temp.last_event('blog'), 'resumed', 'event resumed written');
SELECT throws_ok($$SELECT resume_project('blog')$$, '55000', NULL, 'resuming an active project: 55000');

-- ------------------------------------------------------------- quotas
SELECT lives_ok($$SELECT set_project_quota('blog', storage_quota => '2 GB')$$, 'storage quota changed');
SELECT is((SELECT storage_quota_bytes FROM projects WHERE name = 'blog'), 2147483648::bigint, 'new storage quota');
SELECT lives_ok($$SELECT set_project_quota('blog', max_connections => 4)$$, 'connection quota changed');
SELECT is((SELECT max_connections FROM projects WHERE name = 'blog'), 4, 'new connection quota in the registry');
SELECT is((SELECT rolconnlimit FROM pg_roles WHERE rolname = 'blog'), 4, 'role CONNECTION LIMIT follows');
SELECT is((SELECT storage_quota_bytes FROM projects WHERE name = 'blog'), 2147483648::bigint,
          'storage quota untouched when only connections change');
SELECT throws_ok($$SELECT set_project_quota('blog')$$, '22004', NULL, 'no quota given: 22004');
SELECT throws_ok($$SELECT set_project_quota('blog', storage_quota => '-1 GB')$$, '22003', NULL, 'negative: 22003');
SELECT throws_ok($$SELECT set_project_quota('blog', storage_quota => 'NaN')$$, '22023', NULL, 'NaN: 22023');
SELECT throws_ok($$SELECT set_project_quota('blog', storage_quota => '5 parsecs')$$, '22023', NULL, 'bad unit: 22023');
SELECT throws_ok($$SELECT set_project_quota('blog', max_connections => 0)$$, '22003', NULL, 'zero connections: 22003');
SELECT is((SELECT row(storage_quota_bytes, max_connections)::text FROM projects WHERE name = 'blog'),
          '(2147483648,4)', 'refused changes changed nothing');

-- ----------------------------------------------------------- password
CREATE TEMP TABLE old_secret AS SELECT rolpassword FROM pg_authid WHERE rolname = 'blog';
CREATE TEMP TABLE reset AS SELECT * FROM reset_project_password('blog');
SELECT matches((SELECT password FROM reset), '^[A-Za-z0-9]{32}$', 'reset returns a new password');
SELECT matches((SELECT connection_uri FROM reset), '^postgresql://blog:' || (SELECT password FROM reset) || '@',
               'and the URI with it');
SELECT isnt((SELECT rolpassword FROM pg_authid WHERE rolname = 'blog'), (SELECT rolpassword FROM old_secret),
            'the stored verifier changed');

-- ------------------------------------------------------- drop / restore
SET LOCAL schemahost.drop_grace = '3 days';
SELECT lives_ok($$SELECT drop_project_schema('blog')$$, 'drop_project_schema');
SELECT is(pg_temp.state('blog'), 'dropped', 'state dropped');
SELECT is(pg_temp.can_login('blog'), false, 'login off');
SELECT is((SELECT purge_after - dropped_at FROM schemahost.project WHERE name = 'blog'), '3 days'::interval,
          'purge_after = dropped_at + schemahost.drop_grace');
SELECT is((SELECT (payload->>'purge_after')::timestamptz FROM schemahost.event
            WHERE project = 'blog' AND kind = 'dropped'),
          (SELECT purge_after FROM schemahost.project WHERE name = 'blog'), 'event dropped carries purge_after');
SELECT has_schema('blog', 'the data is kept during the grace period');
SELECT throws_ok($$SELECT drop_project_schema('blog')$$, '55000', NULL, 'dropping twice: 55000');
SELECT throws_ok($$SELECT suspend_project('blog')$$, '55000', NULL, 'suspending a dropped project: 55000');
SELECT throws_ok($$SELECT reset_project_password('blog')$$, '55000', NULL, 'reset on a dropped project: 55000');
SELECT throws_ok($$SELECT create_project_schema('blog')$$, '42710', NULL, 'its name stays taken: 42710');
SELECT lives_ok($$SELECT restore_project('blog')$$, 'restore_project');
SELECT is(pg_temp.state('blog'), 'active', 'state active again');
SELECT is(pg_temp.can_login('blog'), true, 'login on again');
SELECT is(pg_temp.last_event('blog'), 'restored', 'event restored written');
SELECT throws_ok($$SELECT restore_project('blog')$$, '55000', NULL, 'restoring a live project: 55000');

-- a suspended project comes back suspended
SELECT lives_ok($$SELECT suspend_project('blog'); SELECT drop_project_schema('blog'); SELECT restore_project('blog')$$,
                'suspend, drop, restore');
SELECT is(pg_temp.state('blog') || '/' || pg_temp.can_login('blog'), 'suspended/false', 'restored as suspended');
SELECT lives_ok($$SELECT resume_project('blog')$$, 'resumed');

-- -------------------------------------------- others depend on it: refuse
SELECT lives_ok($$SELECT create_project_schema('shop')$$, 'shop created');
CREATE TABLE blog.posts (id int PRIMARY KEY);
CREATE VIEW shop.post_ids AS SELECT id FROM blog.posts;
SELECT throws_like($$SELECT drop_project_schema('blog', purge => true)$$,
                   'cannot drop project "blog" because objects outside it depend on it', 'purge refused: dependents');
SELECT throws_ok($$SELECT drop_project_schema('blog')$$, '2BP01', NULL, 'drop refused: 2BP01');
DO $$
BEGIN
    PERFORM drop_project_schema('blog');
EXCEPTION WHEN dependent_objects_still_exist THEN
    RAISE NOTICE '%', SQLERRM;
    CREATE TEMP TABLE refusal AS SELECT SQLERRM AS msg;
    DECLARE d text; BEGIN GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL; UPDATE refusal SET msg = d; END;
END $$;
SELECT matches((SELECT msg FROM refusal), 'view shop\.post_ids', 'the refusal lists the dependent view');
SELECT is(pg_temp.state('blog'), 'active', 'refused drop changed nothing');
DROP VIEW shop.post_ids;

-- --------------------------------------------------- purge: nothing left
CREATE TEMP TABLE ids AS SELECT schema_oid, role_oid FROM schemahost.project WHERE name = 'blog';
CREATE FUNCTION blog.f() RETURNS int LANGUAGE sql AS 'SELECT 1';
ALTER FUNCTION blog.f() OWNER TO blog;
ALTER TABLE blog.posts OWNER TO blog;
SELECT lives_ok($$SELECT drop_project_schema('blog', purge => true)$$, 'purge');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles r, ids WHERE r.oid = ids.role_oid OR r.rolname = 'blog'), 'no role left');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_namespace n, ids WHERE n.oid = ids.schema_oid OR n.nspname = 'blog'), 'no schema left');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_default_acl d, ids WHERE d.defaclrole = ids.role_oid), 'no default privileges left');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_shdepend s, ids WHERE s.refobjid = ids.role_oid AND s.refclassid = 'pg_authid'::regclass),
          'no grants or ownerships left (pg_shdepend)');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_db_role_setting s, ids WHERE s.setrole = ids.role_oid), 'no role settings left');
SELECT ok(NOT EXISTS (SELECT 1 FROM schemahost.project WHERE name = 'blog'), 'no registry row left');
SELECT is(pg_temp.last_event('blog'), 'purged', 'event purged written');

-- ------------------------------------------------------ unknown projects
SELECT throws_ok($$SELECT drop_project_schema('nope')$$, '42704', 'project "nope" does not exist', 'drop unknown: 42704');
SELECT throws_ok($$SELECT restore_project('nope')$$, '42704', NULL, 'restore unknown: 42704');
SELECT throws_ok($$SELECT suspend_project('nope')$$, '42704', NULL, 'suspend unknown: 42704');
SELECT throws_ok($$SELECT resume_project('nope')$$, '42704', NULL, 'resume unknown: 42704');
SELECT throws_ok($$SELECT reset_project_password('nope')$$, '42704', NULL, 'reset unknown: 42704');
SELECT throws_ok($$SELECT set_project_quota('nope', '1 GB')$$, '42704', NULL, 'quota unknown: 42704');
SELECT throws_ok($$SELECT suspend_project(NULL)$$, '22004', NULL, 'NULL name: 22004');
SELECT throws_ok($$SELECT drop_project_schema('shop', purge => NULL)$$, '22004', NULL, 'NULL purge: 22004');

-- ------------------------------------------------ the daemon's purge pass
SET LOCAL schemahost.drop_grace = '0';
SELECT lives_ok($$SELECT drop_project_schema('shop')$$, 'shop dropped with no grace');
SELECT lives_ok($$SELECT create_project_schema('later')$$, 'later created');
SELECT lives_ok($$SELECT drop_project_schema('later')$$, 'later dropped with no grace');
UPDATE schemahost.project SET purge_after = now() + interval '1 hour' WHERE name = 'later';
SELECT results_eq($$SELECT * FROM schemahost_purge_expired()$$, ARRAY['shop'], 'only the expired project is purged');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'shop'), 'its role is gone');
SELECT is(pg_temp.state('later'), 'dropped', 'the other waits for its date');

SELECT * FROM finish();
ROLLBACK;
