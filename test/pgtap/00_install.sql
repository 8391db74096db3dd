-- The extension installs its API where the default search_path finds it, its
-- internals in a schema of their own, and the operator roles.
BEGIN;
CREATE EXTENSION schemahost;
SELECT plan(7);

SELECT has_schema('schemahost', 'internal schema exists');
SELECT has_role('schemahost_admin', 'operator role exists');
SELECT has_role('schemahost_daemon', 'daemon role exists');
SELECT is((SELECT rolcanlogin FROM pg_roles WHERE rolname = 'schemahost_admin'), false,
          'schemahost_admin cannot log in');
SELECT has_function('public', 'schemahost_version', 'schemahost_version() is in public');
SELECT is((SELECT library_version = sql_version FROM schemahost_version()), true,
          'library and SQL versions agree');
SELECT ok(NOT has_schema_privilege('public', 'schemahost', 'USAGE'),
          'PUBLIC has no USAGE on the internal schema');

SELECT * FROM finish();
ROLLBACK;
