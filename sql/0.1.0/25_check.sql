-- schemahost_check(): the instance settings that weaken the isolation between
-- projects, one row each, with the statement that fixes it.

-- The newest PostgreSQL 15 minor release this code knows of, as
-- server_version_num. 15.20 was the latest 15.x security release when this
-- was written; raise it when a newer one is out.
CREATE FUNCTION schemahost.latest_known_server_version_num() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT 150020 $$;

CREATE FUNCTION schemahost_check()
    RETURNS TABLE (setting text, problem text, fix text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
WITH db_public AS (
    SELECT d.datname, a.privilege_type
      FROM pg_catalog.pg_database d,
           pg_catalog.aclexplode(coalesce(d.datacl, pg_catalog.acldefault('d', d.datdba))) a
     WHERE d.datallowconn AND a.grantee = 0
), rows AS (
    SELECT 1 AS ord, format('database %I: CONNECT for PUBLIC', p.datname) AS setting,
           'every role, every project''s included, may connect to this database' AS problem,
           CASE WHEN p.datname = pg_catalog.current_database()
                THEN format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC; GRANT CONNECT ON DATABASE %I TO schemahost_admin, schemahost_daemon;',
                            p.datname, p.datname)
                ELSE format('REVOKE CONNECT ON DATABASE %I FROM PUBLIC;', p.datname) END AS fix
      FROM db_public p WHERE p.privilege_type = 'CONNECT'
    UNION ALL
    SELECT 2, format('database %I: TEMPORARY for PUBLIC', p.datname),
           'every role may create temporary tables, which are outside every project''s schema and quota',
           format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC;', p.datname)
      FROM db_public p WHERE p.privilege_type = 'TEMPORARY'
    UNION ALL
    SELECT 3, format('schema %I: CREATE for PUBLIC', n.nspname),
           'every role may create objects in this shared schema, outside its own project',
           format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC;', n.nspname)
      FROM pg_catalog.pg_namespace n,
           pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a
     WHERE a.grantee = 0 AND a.privilege_type = 'CREATE'
    UNION ALL
    SELECT 4, 'temp_file_limit = -1',
           'a single query of any project may fill the disk with temporary files',
           'ALTER SYSTEM SET temp_file_limit = ''5GB''; SELECT pg_reload_conf();'
     WHERE pg_catalog.current_setting('temp_file_limit') = '-1'
    UNION ALL
    SELECT 5, format('role %I: CREATEROLE', r.rolname),
           'a role with CREATEROLE may create roles and grant itself or them the membership of non-superuser roles, project roles included',
           format('ALTER ROLE %I NOCREATEROLE;', r.rolname)
      FROM pg_catalog.pg_roles r
     WHERE r.rolcreaterole AND NOT r.rolsuper
    UNION ALL
    SELECT 6, format('server_version %s', pg_catalog.current_setting('server_version')),
           format('older than PostgreSQL 15.%s, the latest 15.x security release known to schemahost',
                  schemahost.latest_known_server_version_num() % 100),
           format('Upgrade the PostgreSQL 15 packages to 15.%s or later and restart the server.',
                  schemahost.latest_known_server_version_num() % 100)
     WHERE pg_catalog.current_setting('server_version_num')::integer / 100 = 1500
       AND pg_catalog.current_setting('server_version_num')::integer < schemahost.latest_known_server_version_num()
    UNION ALL
    SELECT 7, 'shared_preload_libraries',
           'schemahost is not preloaded: storage quotas and the tenant restrictions of its hooks are not enforced',
           format('ALTER SYSTEM SET shared_preload_libraries = %L; -- then restart the server',
                  concat_ws(', ', nullif(pg_catalog.current_setting('shared_preload_libraries'), ''), 'schemahost'))
     WHERE NOT schemahost.library_preloaded()
)
SELECT r.setting, r.problem, r.fix FROM rows r ORDER BY r.ord, r.setting
$$;
COMMENT ON FUNCTION schemahost_check() IS
    'instance settings that weaken the isolation between projects, each with the statement that fixes it';

REVOKE ALL ON FUNCTION schemahost_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schemahost_check() TO schemahost_admin;
