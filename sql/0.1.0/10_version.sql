-- Version of the loaded library and of the installed SQL; raises an error with
-- a hint when they differ.
CREATE FUNCTION schemahost_version(OUT library_version text, OUT sql_version text)
    RETURNS record
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_version';
COMMENT ON FUNCTION schemahost_version() IS 'library and installed SQL versions of schemahost';
