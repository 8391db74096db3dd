-- schemahost_version() reports both versions, which agree after install.
SELECT library_version = sql_version AS versions_agree,
       sql_version = (SELECT extversion FROM pg_extension WHERE extname = 'schemahost') AS matches_catalog
FROM schemahost_version();
-- A package upgrade without ALTER EXTENSION: the SQL says another version.
SELECT extversion AS installed FROM pg_extension WHERE extname = 'schemahost' \gset
UPDATE pg_extension SET extversion = '0.0.9' WHERE extname = 'schemahost';
SELECT * FROM schemahost_version();
UPDATE pg_extension SET extversion = :'installed' WHERE extname = 'schemahost';
SELECT library_version = sql_version AS versions_agree FROM schemahost_version();
