-- CREATE EXTENSION works, and puts internals in their own schema.
CREATE EXTENSION schemahost;
SELECT extname, extversion, n.nspname AS api_schema
FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
WHERE extname = 'schemahost';
SELECT nspname FROM pg_namespace WHERE nspname = 'schemahost';
SELECT rolname, rolcanlogin FROM pg_roles
WHERE rolname IN ('schemahost_admin', 'schemahost_daemon') ORDER BY 1;
