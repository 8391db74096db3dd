-- Who may call the admin API, and schemahost_check(): one row per instance
-- setting that weakens isolation, with the statement that fixes it.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(28);

-- ------------------------------------------------------------- privileges
CREATE TEMP TABLE api (sig text);
INSERT INTO api VALUES ('create_project_schema(text,text,text,integer)'), ('drop_project_schema(text,boolean)'),
    ('restore_project(text)'), ('suspend_project(text)'), ('resume_project(text)'),
    ('reset_project_password(text)'), ('set_project_quota(text,text,integer)'), ('schemahost_check()');
SELECT is((SELECT count(*) FROM api WHERE has_function_privilege('public', sig::regprocedure, 'EXECUTE')),
          0::bigint, 'PUBLIC cannot execute any admin function');
SELECT is((SELECT count(*) FROM api WHERE has_function_privilege('schemahost_admin', sig::regprocedure, 'EXECUTE')),
          8::bigint, 'schemahost_admin can execute every admin function');
SELECT is((SELECT count(*) FROM api a JOIN pg_proc p ON p.oid = a.sig::regprocedure
            WHERE p.prosecdef AND p.proconfig @> ARRAY['search_path=pg_catalog, schemahost, pg_temp']),
          8::bigint, 'all are SECURITY DEFINER with the pinned search_path');
SELECT ok(NOT has_function_privilege('public', 'schemahost_purge_expired()', 'EXECUTE'), 'PUBLIC cannot purge');
SELECT ok(has_function_privilege('schemahost_daemon', 'schemahost_purge_expired()', 'EXECUTE'), 'the daemon can purge');
SELECT ok(NOT has_table_privilege('public', 'projects', 'SELECT'), 'PUBLIC cannot read projects');
SELECT ok(has_table_privilege('schemahost_admin', 'projects', 'SELECT'), 'schemahost_admin can read projects');
SELECT is((SELECT count(*) FROM pg_proc p WHERE p.pronamespace = 'schemahost'::regnamespace
            AND has_function_privilege('public', p.oid, 'EXECUTE')
            AND p.proname IN ('new_credentials', 'check_project_name', 'purge_project', 'terminate_sessions',
                              'lock_project', 'write_event', 'project_changed')),
          0::bigint, 'PUBLIC cannot execute the internal helpers');

-- a non-superuser operator
CREATE ROLE op_alice LOGIN NOSUPERUSER IN ROLE schemahost_admin;
CREATE ROLE nobody_bob LOGIN NOSUPERUSER;
SET LOCAL ROLE nobody_bob;
SELECT throws_ok($$SELECT create_project_schema('evil')$$, '42501', NULL, 'a plain role cannot provision');
SELECT throws_ok($$SELECT * FROM projects$$, '42501', NULL, 'a plain role cannot read projects');
SELECT throws_ok($$SELECT * FROM schemahost_check()$$, '42501', NULL, 'a plain role cannot run the check');
RESET ROLE;
SET LOCAL ROLE op_alice;
SELECT lives_ok($$CREATE TEMP TABLE by_alice AS SELECT * FROM create_project_schema('alices')$$,
                'a member of schemahost_admin provisions without being superuser');
SELECT is((SELECT count(*) FROM projects WHERE name = 'alices'), 1::bigint, 'and sees the project');
SELECT lives_ok($$SELECT suspend_project('alices'); SELECT resume_project('alices');
                  SELECT set_project_quota('alices', '1 GB', 2); SELECT reset_project_password('alices');
                  SELECT drop_project_schema('alices'); SELECT restore_project('alices');
                  SELECT drop_project_schema('alices', purge => true)$$, 'and runs the whole lifecycle');
SELECT throws_ok($$SELECT * FROM schemahost.project$$, '42501', NULL, 'but cannot touch the registry directly');
RESET ROLE;
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alices'), 'alice''s project was purged');

-- ------------------------------------------------------- schemahost_check
SELECT has_function('public', 'schemahost_check', 'schemahost_check() exists');
SELECT is((SELECT count(*) FROM schemahost_check() WHERE setting IS NULL OR problem IS NULL OR fix IS NULL),
          0::bigint, 'every row has setting, problem and fix');

-- PUBLIC's CONNECT and TEMPORARY on the (PG15-default) test database
SELECT ok(EXISTS (SELECT 1 FROM schemahost_check()
                  WHERE setting = format('database %I: CONNECT for PUBLIC', current_database())
                    AND fix LIKE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC;%%', current_database())),
          'CONNECT for PUBLIC reported with its REVOKE');
SELECT ok(EXISTS (SELECT 1 FROM schemahost_check()
                  WHERE setting = format('database %I: TEMPORARY for PUBLIC', current_database())
                    AND fix = format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC;', current_database())),
          'TEMPORARY for PUBLIC reported with its REVOKE');
-- applying the fix makes the row go away
DO $$ BEGIN EXECUTE (SELECT fix FROM schemahost_check()
                      WHERE setting = format('database %I: TEMPORARY for PUBLIC', current_database())); END $$;
SELECT ok(NOT EXISTS (SELECT 1 FROM schemahost_check()
                      WHERE setting = format('database %I: TEMPORARY for PUBLIC', current_database())),
          'running the fix clears the row');

-- CREATE on public for PUBLIC
SELECT ok(NOT EXISTS (SELECT 1 FROM schemahost_check() WHERE setting = 'schema public: CREATE for PUBLIC'),
          'no CREATE-on-public row by default in PG15');
GRANT CREATE ON SCHEMA public TO PUBLIC;
SELECT is((SELECT fix FROM schemahost_check() WHERE setting = 'schema public: CREATE for PUBLIC'),
          'REVOKE CREATE ON SCHEMA public FROM PUBLIC;', 'CREATE on public for PUBLIC reported');
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- temp_file_limit
SET LOCAL temp_file_limit = -1;
SELECT ok(EXISTS (SELECT 1 FROM schemahost_check() WHERE setting = 'temp_file_limit = -1'
                  AND fix LIKE 'ALTER SYSTEM SET temp_file_limit%'), 'unlimited temp_file_limit reported');
SET LOCAL temp_file_limit = '1GB';
SELECT ok(NOT EXISTS (SELECT 1 FROM schemahost_check() WHERE setting LIKE 'temp_file_limit%'),
          'a limited temp_file_limit is not');

-- CREATEROLE
CREATE ROLE carol_creates NOSUPERUSER CREATEROLE;
SELECT is((SELECT fix FROM schemahost_check() WHERE setting = 'role carol_creates: CREATEROLE'),
          'ALTER ROLE carol_creates NOCREATEROLE;', 'a non-superuser with CREATEROLE is reported');

-- server version: this machine runs the latest known release; pretend a newer one exists
SELECT ok(NOT EXISTS (SELECT 1 FROM schemahost_check() WHERE setting LIKE 'server_version%')
          OR current_setting('server_version_num')::int < schemahost.latest_known_server_version_num(),
          'no version row when the server is at the latest known release');
CREATE OR REPLACE FUNCTION schemahost.latest_known_server_version_num() RETURNS integer
    LANGUAGE sql IMMUTABLE AS $$ SELECT current_setting('server_version_num')::int + 1 $$;
SELECT ok(EXISTS (SELECT 1 FROM schemahost_check() WHERE setting LIKE 'server_version %'
                  AND problem LIKE 'older than PostgreSQL 15.%' AND fix LIKE 'Upgrade%'),
          'an older server is reported');

SELECT * FROM finish();
ROLLBACK;
