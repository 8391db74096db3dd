-- While its project is over, a project's role cannot add content to the
-- system catalogs (comments, function bodies, view definitions, types,
-- defaults, enum labels, settings): only an allow-list of utility statements
-- runs, those that cannot add more than a small fixed amount. Everything
-- that frees space or keeps a session usable still works; the refusal also
-- reaches statements run by DO blocks and functions; it ends by itself when
-- the project is back under its quota; operators and other projects are
-- never affected.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(103);

SELECT lives_ok($$SELECT create_project_schema('qcat', storage_quota => '10 MB')$$, 'project qcat');
SELECT lives_ok($$SELECT create_project_schema('qcat_ok', storage_quota => '10 MB')$$, 'project qcat_ok');

\ir lib/as_role.sql
-- The role as session user too: a SECURITY DEFINER function owned by an
-- operator does not escape the check.
CREATE FUNCTION pg_temp.as_session(r text, q text) RETURNS text LANGUAGE sql AS
    $$ SELECT pg_temp.as_role(r, q, session => true) $$;
CREATE FUNCTION pg_temp.over() RETURNS text LANGUAGE sql AS
    $$ SELECT '53100 project "qcat" is over its storage quota' $$;
CREATE FUNCTION pg_temp.comment_on_t() RETURNS text LANGUAGE sql AS
    $$ SELECT obj_description(to_regclass('qcat.t'), 'pg_class') $$;
CREATE FUNCTION pg_temp.column_default(col text) RETURNS text LANGUAGE sql AS
    $$ SELECT column_default FROM information_schema.columns
        WHERE table_schema = 'qcat' AND table_name = 't' AND column_name = col $$;
-- Owned by the operator (the caller of this file).
CREATE FUNCTION pg_temp.definer_comment() RETURNS void LANGUAGE plpgsql SECURITY DEFINER AS
    $$ BEGIN COMMENT ON TABLE qcat.t IS 'by a definer function'; END $$;

-- ------------------------------------------- what the project has before it goes over
SELECT is(pg_temp.as_role('qcat', $$CREATE TABLE qcat.t (id serial PRIMARY KEY, v text, w integer DEFAULT 1, x integer)$$),
          'ok', 'table created');
SELECT is(pg_temp.as_role('qcat', $$INSERT INTO qcat.t (v) SELECT repeat('x', 200) FROM generate_series(1, 500)$$),
          'ok', 'rows written');
SELECT is(pg_temp.as_role('qcat', $$CREATE TABLE qcat.t2 (a integer)$$), 'ok', 'second table created');
SELECT is(pg_temp.as_role('qcat', $$CREATE TABLE qcat.ti (id integer GENERATED ALWAYS AS IDENTITY)$$), 'ok',
          'table with an identity column created');
SELECT is(pg_temp.as_role('qcat', $$CREATE TABLE qcat.t3 (a integer)$$), 'ok', 'third table created');
-- Another project allowed to TRUNCATE one of qcat's tables.
GRANT USAGE ON SCHEMA qcat TO qcat_ok;
GRANT TRUNCATE ON qcat.t3 TO qcat_ok;
SELECT is(pg_temp.as_role('qcat', $$CREATE FUNCTION qcat.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'$$),
          'ok', 'function created');
SELECT is(pg_temp.as_role('qcat', $$CREATE FUNCTION qcat.trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'$$),
          'ok', 'trigger function created');
SELECT is(pg_temp.as_role('qcat', $q$CREATE FUNCTION qcat.set_comment(c text) RETURNS void LANGUAGE plpgsql
                                     AS $f$ BEGIN EXECUTE format('COMMENT ON TABLE qcat.t IS %L', c); END $f$$q$),
          'ok', 'function that runs DDL created');
SELECT is(pg_temp.as_role('qcat', $$CREATE VIEW qcat.v AS SELECT id FROM qcat.t$$), 'ok', 'view created');
SELECT is(pg_temp.as_role('qcat', $$CREATE TYPE qcat.e AS ENUM ('a')$$), 'ok', 'enum created');
SELECT is(pg_temp.as_role('qcat', $$COMMENT ON TABLE qcat.t IS 'before'$$), 'ok', 'comment stored');
SELECT is((SELECT count(*) FROM schemahost_refresh_usage(full => true) WHERE project = 'qcat'), 1::bigint,
          'measured');
SELECT set_project_quota('qcat', storage_quota => '16 kB');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qcat'), 'over', 'qcat is over');

-- ------------------------------------------- refused while over: every way to add catalog content
SELECT is(pg_temp.as_role('qcat', $$COMMENT ON TABLE qcat.t IS 'payload'$$), pg_temp.over(),
          'COMMENT with a value is refused');
SELECT is(pg_temp.comment_on_t(), 'before', 'and the comment is unchanged');
SELECT is(pg_temp.as_role('qcat', $$COMMENT ON COLUMN qcat.t.v IS 'payload'$$), pg_temp.over(),
          'COMMENT ON COLUMN is refused');
SELECT is(pg_temp.as_role('qcat', $q$CREATE FUNCTION qcat.g() RETURNS text LANGUAGE sql AS $b$SELECT 'payload'$b$$q$),
          pg_temp.over(), 'CREATE FUNCTION is refused');
SELECT ok(to_regproc('qcat.g') IS NULL, 'and no function was made');
SELECT is(pg_temp.as_role('qcat', $$CREATE OR REPLACE FUNCTION qcat.f() RETURNS integer LANGUAGE sql AS 'SELECT 2'$$),
          pg_temp.over(), 'CREATE OR REPLACE FUNCTION is refused');
SELECT is((SELECT prosrc FROM pg_proc WHERE oid = 'qcat.f'::regproc), 'SELECT 1', 'and the body is unchanged');
SELECT is(pg_temp.as_role('qcat', $$CREATE PROCEDURE qcat.p() LANGUAGE sql AS 'SELECT 1'$$), pg_temp.over(),
          'CREATE PROCEDURE is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE VIEW qcat.v2 AS SELECT 'payload' AS a$$), pg_temp.over(),
          'CREATE VIEW is refused');
SELECT ok(to_regclass('qcat.v2') IS NULL, 'and no view was made');
SELECT is(pg_temp.as_role('qcat', $$CREATE TYPE qcat.comp AS (a integer, b text)$$), pg_temp.over(),
          'CREATE TYPE (composite) is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE TYPE qcat.e2 AS ENUM ('payload')$$), pg_temp.over(),
          'CREATE TYPE (enum) is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE DOMAIN qcat.d AS text CHECK (VALUE <> 'payload')$$), pg_temp.over(),
          'CREATE DOMAIN is refused');
SELECT ok(to_regtype('qcat.comp') IS NULL AND to_regtype('qcat.e2') IS NULL AND to_regtype('qcat.d') IS NULL,
          'and no type was made');
SELECT is(pg_temp.as_role('qcat', $$CREATE AGGREGATE qcat.agg(integer) (sfunc = int4pl, stype = integer)$$),
          pg_temp.over(), 'CREATE AGGREGATE is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE POLICY pol ON qcat.t USING (v <> 'payload')$$), pg_temp.over(),
          'CREATE POLICY is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE TRIGGER tr BEFORE INSERT ON qcat.t FOR EACH ROW EXECUTE FUNCTION qcat.trg()$$),
          pg_temp.over(), 'CREATE TRIGGER is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE RULE r AS ON UPDATE TO qcat.t DO INSTEAD NOTHING$$), pg_temp.over(),
          'CREATE RULE is refused');
SELECT is(pg_temp.as_role('qcat', $$CREATE STATISTICS qcat.st ON v, w FROM qcat.t$$), pg_temp.over(),
          'CREATE STATISTICS is refused');
SELECT is((SELECT count(*) FROM pg_policy WHERE polrelid = 'qcat.t'::regclass)
          + (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'qcat.t'::regclass AND NOT tgisinternal)
          + (SELECT count(*) FROM pg_rewrite WHERE ev_class = 'qcat.t'::regclass)
          + (SELECT count(*) FROM pg_statistic_ext WHERE stxrelid = 'qcat.t'::regclass), 0::bigint,
          'and no policy, trigger, rule or statistics object was made');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t ALTER COLUMN v SET DEFAULT 'payload'$$), pg_temp.over(),
          'ALTER TABLE ... SET DEFAULT is refused');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t ALTER COLUMN w DROP DEFAULT, ALTER COLUMN v SET DEFAULT 'payload'$$),
          pg_temp.over(), 'so is an ALTER TABLE that mixes it with allowed subcommands');
SELECT ok(pg_temp.column_default('v') IS NULL AND pg_temp.column_default('w') = '1',
          'and no default changed');
SELECT is(pg_temp.as_role('qcat', $$ALTER TYPE qcat.e ADD VALUE 'payload'$$), pg_temp.over(),
          'ALTER TYPE ... ADD VALUE is refused');
SELECT is((SELECT count(*) FROM pg_enum WHERE enumtypid = 'qcat.e'::regtype), 1::bigint, 'and no label was added');
SELECT is(pg_temp.as_role('qcat', $$ALTER FUNCTION qcat.f() SET application_name = 'payload'$$), pg_temp.over(),
          'ALTER FUNCTION ... SET is refused');
SELECT ok((SELECT proconfig IS NULL FROM pg_proc WHERE oid = 'qcat.f'::regproc), 'and no setting was stored');
SELECT is(pg_temp.as_role('qcat', $$SECURITY LABEL ON TABLE qcat.t IS 'payload'$$), pg_temp.over(),
          'SECURITY LABEL with a value is refused');
-- Privileges: only REVOKE. A GRANT adds an ACL entry per object (column)
-- and role; ALTER DEFAULT PRIVILEGES ... GRANT a row per schema, any schema.
SELECT is(pg_temp.as_role('qcat', $$GRANT SELECT ON qcat.t TO PUBLIC$$), pg_temp.over(), 'GRANT is refused');
SELECT is(pg_temp.as_role('qcat', $$GRANT SELECT (v) ON qcat.t TO qcat_ok$$), pg_temp.over(),
          'a column GRANT is refused');
SELECT is(pg_temp.as_role('qcat', $$ALTER DEFAULT PRIVILEGES IN SCHEMA qcat_ok GRANT SELECT ON TABLES TO PUBLIC$$),
          pg_temp.over(), 'ALTER DEFAULT PRIVILEGES ... GRANT is refused, also for another schema');
SELECT ok(NOT EXISTS (SELECT 1 FROM aclexplode((SELECT relacl FROM pg_class WHERE oid = 'qcat.t'::regclass)) a
                       WHERE a.grantee IN (0, 'qcat_ok'::regrole))
          AND (SELECT attacl IS NULL FROM pg_attribute WHERE attrelid = 'qcat.t'::regclass AND attname = 'v')
          AND NOT EXISTS (SELECT 1 FROM pg_default_acl WHERE defaclrole = 'qcat'::regrole
                                                         AND defaclnamespace = 'qcat_ok'::regnamespace),
          'and no privilege was stored');
-- Statements that give a relation new files, kept until the transaction
-- ends: ALTER SEQUENCE (most options) and ANALYZE's pg_statistic rows.
SELECT is(pg_temp.as_role('qcat', $$ALTER SEQUENCE qcat.t_id_seq RESTART$$), pg_temp.over(),
          'ALTER SEQUENCE is refused');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.ti ALTER COLUMN id RESTART$$), pg_temp.over(),
          'so is ALTER TABLE ... ALTER COLUMN ... RESTART of an identity column');
SELECT is(pg_temp.as_role('qcat', $$ANALYZE qcat.t$$), pg_temp.over(), 'ANALYZE is refused');
SELECT is(pg_temp.as_role('qcat', $$VACUUM (ANALYZE) qcat.t$$), pg_temp.over(), 'VACUUM (ANALYZE) is refused');
-- The specific refusals still win over the quota's.
SELECT is(pg_temp.as_role('qcat', $$CREATE TEMP TABLE tt (a integer)$$),
          '42501 temporary tables are not available to project "qcat"', 'a temporary table: 42501 as before');
SELECT is(pg_temp.as_role('qcat', $$ALTER ROLE CURRENT_USER SET work_mem = '1GB'$$),
          '42501 project "qcat" may not alter roles', 'ALTER ROLE ... SET: 42501 as before');

-- ------------------------------------------- statements run by DO blocks and functions
SELECT is(pg_temp.as_role('qcat', $q$DO $d$ BEGIN COMMENT ON TABLE qcat.t IS 'from a DO block'; END $d$$q$),
          pg_temp.over(), 'COMMENT inside a DO block is refused');
SELECT is(pg_temp.as_role('qcat', $$SELECT qcat.set_comment('from a function')$$), pg_temp.over(),
          'COMMENT run by a function is refused');
SELECT is(pg_temp.as_session('qcat', $$SELECT pg_temp.definer_comment()$$), pg_temp.over(),
          'and by an operator''s SECURITY DEFINER function called with the role as session user');
SELECT is(pg_temp.comment_on_t(), 'before', 'the comment is still unchanged');

-- ------------------------------------------- operators and other projects are not affected
SELECT is(pg_temp.as_role('qcat_ok', $$CREATE FUNCTION qcat_ok.h() RETURNS integer LANGUAGE sql AS 'SELECT 1'$$),
          'ok', 'another project that is not over creates a function');
SELECT lives_ok($$COMMENT ON TABLE qcat.t IS 'by the operator'$$, 'the operator comments');
SELECT lives_ok($$CREATE FUNCTION qcat.op_f() RETURNS integer LANGUAGE sql AS 'SELECT 1'$$,
                'the operator creates a function in the project');
SELECT lives_ok($$ALTER TYPE qcat.e ADD VALUE 'by_operator'$$, 'the operator adds an enum label');
SELECT lives_ok($$SELECT pg_temp.definer_comment()$$, 'the operator runs its SECURITY DEFINER function');

-- ------------------------------------------- allowed while over
SELECT is(pg_temp.as_role('qcat', $$COMMENT ON TABLE qcat.t IS NULL$$), 'ok', 'COMMENT ... IS NULL works');
SELECT ok(pg_temp.comment_on_t() IS NULL, 'and removes the comment');
SELECT is(pg_temp.as_role('qcat', $$SECURITY LABEL ON TABLE qcat.t IS NULL$$),
          '22023 no security label providers have been loaded',
          'SECURITY LABEL ... IS NULL reaches PostgreSQL');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t ALTER COLUMN w DROP DEFAULT$$), 'ok',
          'ALTER TABLE ... DROP DEFAULT works');
SELECT ok(pg_temp.column_default('w') IS NULL, 'and removes the default');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t DROP COLUMN x$$), 'ok', 'ALTER TABLE ... DROP COLUMN works');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t RENAME COLUMN v TO val$$), 'ok', 'RENAME COLUMN works');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t SET (fillfactor = 90), ENABLE ROW LEVEL SECURITY,
                                     ALTER COLUMN val SET STATISTICS 100, ALTER COLUMN val SET STORAGE EXTERNAL$$),
          'ok', 'ALTER TABLE with subcommands that flip something works');
SELECT is(pg_temp.as_role('qcat', $$ALTER TYPE qcat.e RENAME VALUE 'a' TO 'z'$$), 'ok',
          'ALTER TYPE ... RENAME VALUE works');
SELECT is(pg_temp.as_role('qcat', $$REVOKE SELECT ON qcat.t FROM PUBLIC$$), 'ok', 'REVOKE works');
SELECT is(pg_temp.as_role('qcat', $$ALTER DEFAULT PRIVILEGES REVOKE SELECT ON TABLES FROM PUBLIC$$), 'ok',
          'ALTER DEFAULT PRIVILEGES ... REVOKE works');
SELECT is(pg_temp.as_role('qcat', $$SET work_mem = '8MB'$$) || pg_temp.as_role('qcat', $$SHOW work_mem$$),
          'okok', 'SET and SHOW work');
-- VACUUM cannot run inside a transaction: reaching that error shows the
-- quota let it through (test/regress/sql/quota_enforcement.sql runs it).
SELECT is(pg_temp.as_role('qcat', $$VACUUM qcat.t$$), '25001 VACUUM cannot run inside a transaction block',
          'VACUUM reaches PostgreSQL');
SELECT is(pg_temp.as_role('qcat', $$LOCK TABLE qcat.t IN ACCESS SHARE MODE$$), 'ok', 'LOCK works');
SELECT is(pg_temp.as_role('qcat', $$EXPLAIN SELECT * FROM qcat.t$$), 'ok', 'EXPLAIN works');
SELECT is(pg_temp.as_role('qcat', $q$DO $d$ BEGIN PERFORM count(*) FROM qcat.t; END $d$$q$), 'ok',
          'a DO block that only reads works');
-- TRUNCATE: each as_role() call runs in a subtransaction of its own, all in
-- this file's one transaction. The first TRUNCATE works (and truncating the
-- same table again in the same subtransaction is done in place); one in
-- another subtransaction would keep another set of files until the end of
-- the transaction, and is refused while over.
SELECT is(pg_temp.as_role('qcat', $$TRUNCATE qcat.t2; TRUNCATE qcat.t2$$), 'ok', 'TRUNCATE works');
SELECT is(pg_temp.as_role('qcat', $$TRUNCATE qcat.t2$$), pg_temp.over(),
          'TRUNCATE in another subtransaction of the same transaction is refused');
SELECT is(pg_temp.as_role('qcat', $q$DO $d$ DECLARE n integer := 0; BEGIN
                                      FOR i IN 1..20 LOOP
                                          BEGIN TRUNCATE qcat.t2; n := n + 1;
                                          EXCEPTION WHEN sqlstate '53100' THEN NULL;
                                          END;
                                      END LOOP;
                                      RAISE EXCEPTION 'truncated % times', n USING ERRCODE = 'P0001';
                                  END $d$$q$),
          'P0001 truncated 0 times', 'so is a loop of them in exception blocks');
SELECT is(pg_temp.as_role('qcat', $$TRUNCATE qcat.ti RESTART IDENTITY; TRUNCATE qcat.ti RESTART IDENTITY$$),
          pg_temp.over(), 'RESTART IDENTITY twice in one subtransaction is refused (a new sequence file each time)');
SELECT is(pg_temp.as_role('qcat', $$TRUNCATE qcat.ti RESTART IDENTITY$$), 'ok',
          'once works, also after the refused attempt was rolled back');
-- The rule follows the table's project, not the role's.
SELECT is(pg_temp.as_role('qcat_ok', $$TRUNCATE qcat.t3$$), 'ok', 'another project truncates an over project''s table');
SELECT is(pg_temp.as_role('qcat_ok', $$TRUNCATE qcat.t3$$), pg_temp.over(),
          'but not again in another subtransaction: the table''s project is over');
SELECT is(pg_temp.as_role('qcat', $$DROP TABLE qcat.t2$$), 'ok', 'DROP TABLE works');
SELECT is(pg_temp.as_role('qcat', $$DROP VIEW qcat.v$$), 'ok', 'DROP VIEW works');
SELECT is(pg_temp.as_role('qcat', $$DROP FUNCTION qcat.f()$$), 'ok', 'DROP FUNCTION works');

-- ------------------------------------------- back under the quota: the same statements work
SELECT set_project_quota('qcat', storage_quota => '10 MB');
SELECT is((SELECT state FROM schemahost.quota_shared_state() WHERE project = 'qcat'), 'ok', 'qcat is ok again');
SELECT is(pg_temp.as_role('qcat', $$COMMENT ON TABLE qcat.t IS 'after'$$), 'ok', 'COMMENT works again');
SELECT is(pg_temp.comment_on_t(), 'after', 'and is stored');
SELECT is(pg_temp.as_role('qcat', $$CREATE FUNCTION qcat.g() RETURNS text LANGUAGE sql AS 'SELECT 1::text'$$), 'ok',
          'CREATE FUNCTION works again');
SELECT is(pg_temp.as_role('qcat', $$ALTER FUNCTION qcat.g() SET application_name = 'g'$$), 'ok',
          'ALTER FUNCTION ... SET works again');
SELECT is(pg_temp.as_role('qcat', $$CREATE VIEW qcat.v2 AS SELECT 1 AS a$$), 'ok', 'CREATE VIEW works again');
SELECT is(pg_temp.as_role('qcat', $$ALTER TYPE qcat.e ADD VALUE 'b'$$), 'ok', 'ALTER TYPE ... ADD VALUE works again');
SELECT is(pg_temp.as_role('qcat', $$ALTER TABLE qcat.t ALTER COLUMN val SET DEFAULT 'd'$$), 'ok',
          'SET DEFAULT works again');
SELECT is(pg_temp.as_role('qcat', $$SELECT qcat.set_comment('from a function')$$), 'ok',
          'and so does the function that runs DDL');
SELECT is(pg_temp.as_role('qcat', $$GRANT SELECT ON qcat.t TO PUBLIC$$), 'ok', 'GRANT works again');
SELECT is(pg_temp.as_role('qcat', $$ANALYZE qcat.t$$), 'ok', 'ANALYZE works again');
SELECT is(pg_temp.as_role('qcat', $$ALTER SEQUENCE qcat.t_id_seq RESTART$$), 'ok', 'ALTER SEQUENCE works again');
SELECT is(pg_temp.as_role('qcat', $$TRUNCATE qcat.t$$), 'ok',
          'TRUNCATE in yet another subtransaction works again');

SELECT lives_ok($$SELECT drop_project_schema('qcat', purge => true)$$, 'cleanup qcat');
SELECT lives_ok($$SELECT drop_project_schema('qcat_ok', purge => true)$$, 'cleanup qcat_ok');
SELECT * FROM finish();
ROLLBACK;
