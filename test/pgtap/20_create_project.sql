-- create_project_schema(): what one call creates, what it returns, and how
-- every bad input is refused with its own SQLSTATE and nothing left behind.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(71);

-- ---------------------------------------------------------------- the API
SELECT has_function('public', 'create_project_schema', ARRAY['text', 'text', 'text', 'integer'],
                    'create_project_schema(name, owner_email, storage_quota, max_connections)');
SELECT function_returns('public', 'create_project_schema', ARRAY['text', 'text', 'text', 'integer'],
                        'setof record', 'create_project_schema returns a row');
SELECT has_view('public', 'projects', 'view projects exists');
SELECT columns_are('public', 'projects',
                   ARRAY['name', 'state', 'owner_email', 'storage_quota_bytes', 'max_connections',
                         'created_at', 'purge_after'], 'projects has the documented columns');

SET LOCAL schemahost.default_storage_quota = '42MB';
SET LOCAL schemahost.default_max_connections = 7;
SET LOCAL schemahost.public_host = 'db.example.com';
CREATE TEMP TABLE created AS SELECT * FROM create_project_schema('blog', 'owner@example.com');

SELECT is((SELECT count(*) FROM created), 1::bigint, 'one row returned');
SELECT is((SELECT project || '/' || role FROM created), 'blog/blog', 'project and role are the name');
SELECT matches((SELECT password FROM created), '^[A-Za-z0-9]{32}$', 'password: 32 random URI-safe characters');
SELECT is((SELECT connection_uri FROM created),
          format('postgresql://blog:%s@db.example.com:%s/%s', (SELECT password FROM created),
                 current_setting('port'), current_database()),
          'URI: postgresql://ROLE:PASSWORD@public_host:port/current database');

-- the schema
SELECT has_schema('blog', 'schema blog exists');
SELECT isnt((SELECT nspowner FROM pg_namespace WHERE nspname = 'blog'),
            (SELECT oid FROM pg_roles WHERE rolname = 'blog'), 'the tenant does not own its schema');
SELECT ok(has_schema_privilege('blog', 'blog', 'USAGE') AND has_schema_privilege('blog', 'blog', 'CREATE'),
          'the tenant has USAGE and CREATE on its schema');
SELECT ok(NOT has_schema_privilege('blog', 'blog', 'USAGE WITH GRANT OPTION'),
          'the tenant cannot grant its schema to others');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
                      WHERE n.nspname = 'blog' AND a.grantee = 0), 'PUBLIC has nothing on the schema');

-- the role
SELECT has_role('blog', 'role blog exists');
SELECT is((SELECT row(rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin)::text
             FROM pg_roles WHERE rolname = 'blog'), '(f,f,f,f,f,t)',
          'NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS LOGIN');
SELECT is((SELECT rolconnlimit FROM pg_roles WHERE rolname = 'blog'), 7,
          'CONNECTION LIMIT = default_max_connections');
SELECT is((SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
            WHERE r.rolname = 'blog' AND s.setdatabase = 0), ARRAY['search_path=blog'],
          'ALTER ROLE blog SET search_path = blog');
SELECT matches((SELECT rolpassword FROM pg_authid WHERE rolname = 'blog'), '^SCRAM-SHA-256\$4096:',
               'only a SCRAM verifier is stored');
SELECT ok(position((SELECT password FROM created) IN (SELECT rolpassword FROM pg_authid WHERE rolname = 'blog')) = 0,
          'the verifier does not contain the password');
SELECT ok(EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
                  WHERE d.datname = current_database() AND a.grantee = 'blog'::regrole AND a.privilege_type = 'CONNECT'),
          'CONNECT on the database is granted explicitly');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_database d, aclexplode(d.datacl) a
                      WHERE a.grantee = 'blog'::regrole AND a.privilege_type IN ('TEMPORARY', 'CREATE')),
          'no TEMPORARY or CREATE on any database');
SELECT is((SELECT count(*) FROM pg_auth_members WHERE member = 'blog'::regrole OR roleid = 'blog'::regrole),
          0::bigint, 'the role is member of nothing');
SELECT is((SELECT array_agg(defaclobjtype ORDER BY defaclobjtype) FROM pg_default_acl
            WHERE defaclrole = 'blog'::regrole), ARRAY['T', 'f']::"char"[],
          'default privileges keep functions and types from PUBLIC');

-- the registry
SELECT is((SELECT row(state, owner_email, storage_quota_bytes, max_connections)::text
             FROM schemahost.project WHERE name = 'blog'), '(active,owner@example.com,44040192,7)',
          'registry row with state, email and the GUC defaults');
SELECT is((SELECT schema_oid FROM schemahost.project WHERE name = 'blog'),
          (SELECT oid FROM pg_namespace WHERE nspname = 'blog'), 'registry holds the schema OID');
SELECT is((SELECT role_oid FROM schemahost.project WHERE name = 'blog'),
          (SELECT oid FROM pg_roles WHERE rolname = 'blog'), 'registry holds the role OID');
SELECT is((SELECT row(name, state)::text FROM projects), '(blog,active)', 'the view shows the project');

-- explicit quotas, sslmode, an IPv6 host
SET LOCAL schemahost.public_sslmode = 'verify-full';
SET LOCAL schemahost.public_host = '2001:db8::1';
CREATE TEMP TABLE created2 AS
    SELECT * FROM create_project_schema('shop_2', storage_quota => '1.5 GB', max_connections => 3);
SELECT is((SELECT row(storage_quota_bytes, max_connections)::text FROM projects WHERE name = 'shop_2'),
          '(1610612736,3)', 'explicit storage quota (pg_size_bytes units) and connection quota');
SELECT is((SELECT rolconnlimit FROM pg_roles WHERE rolname = 'shop_2'), 3, 'explicit CONNECTION LIMIT');
SELECT matches((SELECT connection_uri FROM created2),
               '^postgresql://shop_2:[A-Za-z0-9]{32}@\[2001:db8::1\]:[0-9]+/[^?]+\?sslmode=verify-full$',
               'sslmode added when set; IPv6 host in brackets');
SELECT isnt((SELECT password FROM created), (SELECT password FROM created2), 'passwords differ');

-- ------------------------------------------------------------ bad names
SELECT lives_ok(format('SELECT create_project_schema(%L)', repeat('a', 63)), '63 bytes is accepted');
CREATE TEMP TABLE before AS
    SELECT (SELECT count(*) FROM pg_roles) AS roles, (SELECT count(*) FROM pg_namespace) AS schemas,
           (SELECT count(*) FROM schemahost.project) AS projects;
CREATE FUNCTION pg_temp.unchanged() RETURNS boolean LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM pg_roles) = b.roles AND (SELECT count(*) FROM pg_namespace) = b.schemas
       AND (SELECT count(*) FROM schemahost.project) = b.projects FROM before b $$;

SELECT throws_ok($$SELECT create_project_schema(NULL)$$, '22004', 'project name must not be null', 'NULL name: 22004');
SELECT throws_ok($$SELECT create_project_schema('')$$, '22023', NULL, 'empty name: 22023');
SELECT throws_ok($$SELECT create_project_schema('   ')$$, '22023', NULL, 'blank name: 22023');
SELECT throws_ok(format('SELECT create_project_schema(%L)', repeat('a', 64)), '42622', 'project name is too long',
                 '64 bytes: 42622, no silent truncation');
SELECT throws_ok($$SELECT create_project_schema('Blog')$$, '42602', NULL, 'upper case: 42602');
SELECT throws_ok($$SELECT create_project_schema('1blog')$$, '42602', NULL, 'leading digit: 42602');
SELECT throws_ok($$SELECT create_project_schema('_blog')$$, '42602', NULL, 'leading underscore: 42602');
SELECT throws_ok($$SELECT create_project_schema('my-blog')$$, '42602', NULL, 'hyphen: 42602');
SELECT throws_ok($$SELECT create_project_schema('blög')$$, '42602', NULL, 'non-ASCII: 42602');
SELECT throws_ok($$SELECT create_project_schema('a;drop role x')$$, '42602', NULL, 'SQL in the name: 42602');
SELECT throws_ok($$SELECT create_project_schema('select')$$, '42939', 'project name "select" is an SQL keyword',
                 'reserved keyword: 42939');
SELECT throws_ok($$SELECT create_project_schema('user')$$, '42939', NULL, 'keyword user: 42939');
SELECT throws_ok($$SELECT create_project_schema('public')$$, '42939', 'project name "public" is reserved', 'public: 42939');
SELECT throws_ok($$SELECT create_project_schema('information_schema')$$, '42939', NULL, 'information_schema: 42939');
SELECT throws_ok($$SELECT create_project_schema('pg_blog')$$, '42939', NULL, 'pg_*: 42939');
SELECT throws_ok($$SELECT create_project_schema('schemahost')$$, '42939', NULL, 'the extension schema: 42939');
SELECT throws_ok($$SELECT create_project_schema('current_user')$$, '42939', NULL, 'current_user: 42939');
SELECT throws_ok($$SELECT create_project_schema('session_user')$$, '42939', NULL, 'session_user: 42939');
SELECT throws_ok($$SELECT create_project_schema('current_role')$$, '42939', NULL, 'current_role: 42939');
SELECT throws_ok($$SELECT create_project_schema('none')$$, '42939', NULL, 'none: 42939');
SELECT ok(pg_temp.unchanged(), 'no bad name created anything');

CREATE ROLE someone_else;
CREATE SCHEMA lonely_schema;
TRUNCATE before;
INSERT INTO before SELECT (SELECT count(*) FROM pg_roles), (SELECT count(*) FROM pg_namespace),
                          (SELECT count(*) FROM schemahost.project);
SELECT throws_ok($$SELECT create_project_schema('someone_else')$$, '42710', 'role "someone_else" already exists',
                 'existing role: 42710');
SELECT throws_ok($$SELECT create_project_schema('lonely_schema')$$, '42P06', 'schema "lonely_schema" already exists',
                 'existing schema: 42P06');
SELECT throws_ok($$SELECT create_project_schema('blog')$$, '42710', 'project "blog" already exists', 'duplicate: 42710');

-- ------------------------------------------------------------ bad quotas
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '0')$$, '22003', NULL, 'zero quota: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '-5 MB')$$, '22003', NULL, 'negative quota: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => 'NaN')$$, '22023', NULL, 'NaN quota: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => 'Infinity')$$, '22023', NULL, 'infinite quota: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '-Infinity')$$, '22023', NULL, '-infinite quota: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '10 XB')$$, '22023', NULL, 'unknown unit: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => 'lots')$$, '22023', NULL, 'not a size: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '')$$, '22023', NULL, 'empty quota: 22023');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '2 PB')$$, '22003', NULL, 'absurd quota: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', storage_quota => '1e30 MB')$$, '22003', NULL, 'overflowing quota: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', max_connections => 0)$$, '22003', NULL, 'zero connections: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', max_connections => -1)$$, '22003', NULL, 'negative connections: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', max_connections => 100000)$$, '22003', NULL,
                 'more connections than max_connections: 22003');
SELECT throws_ok($$SELECT create_project_schema('q', owner_email => 'not an email')$$, '22023', NULL, 'bad email: 22023');
SELECT ok(pg_temp.unchanged(), 'no bad quota or duplicate created anything');

SELECT * FROM finish();
ROLLBACK;
