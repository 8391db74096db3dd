-- schemahost 0.1.0: the extension's own schema and roles.
--
-- The public API (create_project_schema() and friends) is created in the
-- schema CREATE EXTENSION targets, normally public, so it works unqualified
-- with the default search_path. Everything internal lives in the schema
-- "schemahost", which no tenant can use.

\echo Use "CREATE EXTENSION schemahost" to load this file. \quit

CREATE SCHEMA schemahost;
REVOKE ALL ON SCHEMA schemahost FROM PUBLIC;

-- Roles are cluster-wide: another database of the same cluster may already
-- have created them.
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'schemahost_admin') THEN
        CREATE ROLE schemahost_admin NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'schemahost_daemon') THEN
        CREATE ROLE schemahost_daemon NOLOGIN;
    END IF;
END
$roles$;
COMMENT ON ROLE schemahost_admin IS 'may provision and manage schemahost projects';
COMMENT ON ROLE schemahost_daemon IS 'the rights schemahostd needs; grant it to the daemon''s login role';

GRANT USAGE ON SCHEMA schemahost TO schemahost_admin, schemahost_daemon;
