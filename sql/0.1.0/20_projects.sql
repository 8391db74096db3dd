-- Projects: provisioning and the whole lifecycle.
--
-- The tenant model (see docs/isolation.md):
--   * schema  <name>, owned by the superuser that ran CREATE EXTENSION (so the
--     tenant can neither drop, rename nor re-own it);
--   * login role <name>: NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION
--     NOBYPASSRLS, CONNECTION LIMIT = the project's connection quota,
--     search_path = <name>, USAGE + CREATE on its schema, CONNECT on this
--     database (never TEMPORARY), and default privileges that keep EXECUTE on
--     its functions and USAGE on its types from PUBLIC.
-- No other per-project role exists: the registry's schema_oid and role_oid are
-- all the enforcement hooks need.
--
-- Every lifecycle function takes a transaction-level advisory lock on the
-- project name first, so that two sessions working on one name serialize and
-- the second sees what the first committed.

-- ---------------------------------------------------------------------------
-- C helpers (extension/names.cpp, extension/provision.cpp)

CREATE FUNCTION schemahost.check_project_name(name text) RETURNS text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'schemahost_check_project_name';
COMMENT ON FUNCTION schemahost.check_project_name(text) IS
    'the name if it can be a project name, else an error with its own SQLSTATE';

CREATE FUNCTION schemahost.new_credentials(role text, OUT password text, OUT connection_uri text)
    RETURNS record
    LANGUAGE c STRICT VOLATILE
    AS 'MODULE_PATHNAME', 'schemahost_new_credentials';
COMMENT ON FUNCTION schemahost.new_credentials(text) IS
    'sets a generated password (as a SCRAM verifier) on the role; returns it and the connection URI';

CREATE FUNCTION schemahost.library_preloaded() RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'schemahost_library_preloaded';
COMMENT ON FUNCTION schemahost.library_preloaded() IS
    'false when schemahost is not in shared_preload_libraries (nothing is enforced)';

REVOKE ALL ON FUNCTION schemahost.check_project_name(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.new_credentials(text) FROM PUBLIC;

-- ---------------------------------------------------------------------------
-- Internal helpers. None is SECURITY DEFINER: they run with the rights of the
-- SECURITY DEFINER API function that calls them.

CREATE FUNCTION schemahost.warn_if_not_preloaded() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    IF NOT schemahost.library_preloaded() THEN
        RAISE WARNING 'schemahost is not in shared_preload_libraries: quotas and tenant restrictions are not enforced'
            USING HINT = 'Add schemahost to shared_preload_libraries and restart the server; SELECT * FROM schemahost_check() shows the statement.';
    END IF;
END
$$;

-- Serializes every lifecycle operation on one project name (in this database).
CREATE FUNCTION schemahost.lock_project_name(p_name text) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('schemahost.project'),
                                                  pg_catalog.hashtext(p_name)) $$;

-- Serializes the changes to this database's ACL (pg_database.datacl): the
-- GRANT CONNECT of a create and the DROP OWNED of a purge update that one
-- catalog row, and two concurrent updates of it fail with "tuple concurrently
-- updated" even for different projects. Always taken before any name lock, so
-- the two kinds of lock are taken in one order and cannot deadlock.
CREATE FUNCTION schemahost.lock_database_acl() RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('schemahost.database_acl')) $$;

-- Locks the name and the registry row; the row, or 22004 / 42704.
CREATE FUNCTION schemahost.lock_project(p_name text) RETURNS schemahost.project
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
BEGIN
    IF p_name IS NULL THEN
        RAISE EXCEPTION 'project name must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass the name of a project, e.g. ''blog''.';
    END IF;
    PERFORM schemahost.lock_project_name(p_name);
    SELECT * INTO v FROM schemahost.project p WHERE p.name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'project "%" does not exist', p_name
            USING ERRCODE = 'undefined_object', HINT = 'SELECT name FROM projects; lists the projects.';
    END IF;
    RETURN v;
END
$$;

-- lock_project(), refusing a dropped project (55000): what every change to
-- a live project's settings starts with.
CREATE FUNCTION schemahost.lock_live_project(p_name text) RETURNS schemahost.project
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v schemahost.project;
BEGIN
    v := schemahost.lock_project(p_name);
    IF v.state = 'dropped' THEN
        RAISE EXCEPTION 'project "%" is dropped', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('restore_project(%L) brings it back first.', v.name);
    END IF;
    RETURN v;
END
$$;

-- A storage quota in bytes: any unit pg_size_bytes knows, positive, at most 1 PB.
CREATE FUNCTION schemahost.parse_storage_quota(p_quota text) RETURNS bigint
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    -- 1 PB: far beyond anything one project of a shared database should
    -- hold; a larger value is a typo, not a quota.
    v_max constant bigint := 1125899906842624;
    v bigint;
    v_detail text;
BEGIN
    IF p_quota IS NULL THEN
        RAISE EXCEPTION 'storage quota must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a size such as ''500 MB''.';
    END IF;
    IF btrim(p_quota) = '' THEN
        RAISE EXCEPTION 'storage quota must not be empty'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Pass a size such as ''500 MB''.';
    END IF;
    BEGIN
        v := pg_catalog.pg_size_bytes(p_quota);
    EXCEPTION
        WHEN invalid_parameter_value THEN
            GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'invalid storage quota: "%"', p_quota
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = coalesce(nullif(v_detail, ''), 'It is not a finite number with a size unit.'),
                      HINT = 'Use a number and a unit pg_size_bytes knows: bytes, kB, MB, GB, TB or PB, e.g. ''500 MB''.';
        WHEN numeric_value_out_of_range THEN
            RAISE EXCEPTION 'storage quota "%" is out of range', p_quota
                USING ERRCODE = 'numeric_value_out_of_range',
                      DETAIL = format('The largest storage quota is %s bytes (1 PB).', v_max),
                      HINT = 'Use a size such as ''500 MB''.';
    END;
    IF v <= 0 THEN
        RAISE EXCEPTION 'storage quota must be positive'
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('"%s" is %s bytes.', p_quota, v),
                  HINT = 'Use a size such as ''500 MB''; to stop a project, use suspend_project().';
    END IF;
    IF v > v_max THEN
        RAISE EXCEPTION 'storage quota "%" is out of range', p_quota
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('%s bytes is more than the largest storage quota, %s bytes (1 PB).', v, v_max),
                  HINT = 'Use a size such as ''500 MB''.';
    END IF;
    RETURN v;
END
$$;

-- A connection quota: 1 .. max_connections.
CREATE FUNCTION schemahost.check_max_connections(p_conns integer) RETURNS integer
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_server integer := current_setting('max_connections')::integer;
BEGIN
    IF p_conns IS NULL THEN
        RAISE EXCEPTION 'connection quota must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass a number of connections such as 10.';
    END IF;
    IF p_conns < 1 OR p_conns > v_server THEN
        RAISE EXCEPTION 'connection quota % is out of range', p_conns
            USING ERRCODE = 'numeric_value_out_of_range',
                  DETAIL = format('It must be between 1 and the server''s max_connections, %s.', v_server),
                  HINT = 'To stop a project from connecting, use suspend_project().';
    END IF;
    RETURN p_conns;
END
$$;

-- One plain address (no display name, list or header characters): it goes
-- into an SMTP envelope and a To: header (50_alerts.sql uses this check too).
CREATE FUNCTION schemahost.check_owner_email(p_email text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    IF p_email IS NOT NULL
       AND (octet_length(p_email) > 254
            OR p_email !~ '^[^@[:space:][:cntrl:]<>(),;:"\\]+@[^@[:space:][:cntrl:]<>(),;:"\\]+$') THEN
        RAISE EXCEPTION 'invalid owner email address'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('The value %L is not a plain address like owner@example.com, at most 254 bytes.',
                                  left(p_email, 300)),
                  HINT = 'Give a single address without a display name, or NULL for none.';
    END IF;
    RETURN p_email;
END
$$;

-- Wakes schemahostd and lets the enforcement part refresh its view of the
-- project, after any change of a project's quota or state.
CREATE FUNCTION schemahost.project_changed(p_name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    PERFORM pg_catalog.pg_notify('schemahost_config', p_name);
    -- ENFORCEMENT HOOK: the enforcement part may define
    -- schemahost.quota_sync(text) to refresh its shared-memory copy of the
    -- project at once; it is called only if it exists.
    IF pg_catalog.to_regprocedure('schemahost.quota_sync(text)') IS NOT NULL THEN
        EXECUTE 'SELECT schemahost.quota_sync($1)' USING p_name;
    END IF;
END
$$;

CREATE FUNCTION schemahost.write_event(p_name text, p_kind text, p_payload jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ INSERT INTO schemahost.event (project, kind, payload) VALUES (p_name, p_kind, p_payload) $$;

-- Terminates every session of the role and waits (up to 10 s each) for them
-- to end. Returns how many were signalled.
CREATE FUNCTION schemahost.terminate_sessions(p_role oid) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_pid integer;
    v_count integer := 0;
BEGIN
    FOR v_pid IN SELECT a.pid FROM pg_catalog.pg_stat_activity a
                 WHERE a.usesysid = p_role AND a.pid <> pg_catalog.pg_backend_pid() LOOP
        PERFORM pg_catalog.pg_terminate_backend(v_pid, 10000);
        v_count := v_count + 1;
    END LOOP;
    RETURN v_count;
END
$$;

-- The schema an object lives in (NULL for objects outside every schema).
-- Sub-objects (rules, triggers, defaults, policies, operator family members)
-- count as living in their parent's schema.
CREATE FUNCTION schemahost.object_namespace(p_classid oid, p_objid oid) RETURNS oid
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
SELECT CASE p_classid
    WHEN 'pg_catalog.pg_class'::regclass THEN (SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_proc'::regclass THEN (SELECT pronamespace FROM pg_catalog.pg_proc WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_type'::regclass THEN (SELECT typnamespace FROM pg_catalog.pg_type WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_constraint'::regclass THEN (SELECT connamespace FROM pg_catalog.pg_constraint WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_operator'::regclass THEN (SELECT oprnamespace FROM pg_catalog.pg_operator WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_collation'::regclass THEN (SELECT collnamespace FROM pg_catalog.pg_collation WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_conversion'::regclass THEN (SELECT connamespace FROM pg_catalog.pg_conversion WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_opclass'::regclass THEN (SELECT opcnamespace FROM pg_catalog.pg_opclass WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_opfamily'::regclass THEN (SELECT opfnamespace FROM pg_catalog.pg_opfamily WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_ts_config'::regclass THEN (SELECT cfgnamespace FROM pg_catalog.pg_ts_config WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_ts_dict'::regclass THEN (SELECT dictnamespace FROM pg_catalog.pg_ts_dict WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_ts_parser'::regclass THEN (SELECT prsnamespace FROM pg_catalog.pg_ts_parser WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_ts_template'::regclass THEN (SELECT tmplnamespace FROM pg_catalog.pg_ts_template WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_statistic_ext'::regclass THEN (SELECT stxnamespace FROM pg_catalog.pg_statistic_ext WHERE oid = p_objid)
    WHEN 'pg_catalog.pg_namespace'::regclass THEN p_objid
    WHEN 'pg_catalog.pg_rewrite'::regclass THEN
        (SELECT c.relnamespace FROM pg_catalog.pg_rewrite r JOIN pg_catalog.pg_class c ON c.oid = r.ev_class WHERE r.oid = p_objid)
    WHEN 'pg_catalog.pg_trigger'::regclass THEN
        (SELECT c.relnamespace FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid WHERE t.oid = p_objid)
    WHEN 'pg_catalog.pg_attrdef'::regclass THEN
        (SELECT c.relnamespace FROM pg_catalog.pg_attrdef d JOIN pg_catalog.pg_class c ON c.oid = d.adrelid WHERE d.oid = p_objid)
    WHEN 'pg_catalog.pg_policy'::regclass THEN
        (SELECT c.relnamespace FROM pg_catalog.pg_policy p JOIN pg_catalog.pg_class c ON c.oid = p.polrelid WHERE p.oid = p_objid)
    WHEN 'pg_catalog.pg_amop'::regclass THEN
        (SELECT f.opfnamespace FROM pg_catalog.pg_amop a JOIN pg_catalog.pg_opfamily f ON f.oid = a.amopfamily WHERE a.oid = p_objid)
    WHEN 'pg_catalog.pg_amproc'::regclass THEN
        (SELECT f.opfnamespace FROM pg_catalog.pg_amproc a JOIN pg_catalog.pg_opfamily f ON f.oid = a.amprocfamily WHERE a.oid = p_objid)
END
$$;

-- Objects outside the project that a purge would drop or change: objects in
-- other schemas (or in none) that depend on the project's schema or on an
-- object in it, and objects outside the schema that the project's role owns or
-- names in a policy. One description per row.
CREATE FUNCTION schemahost.foreign_dependents(p_schema oid, p_role oid) RETURNS SETOF text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
WITH inside AS (
    SELECT 'pg_catalog.pg_namespace'::regclass::oid AS classid, p_schema AS objid
    UNION ALL SELECT 'pg_catalog.pg_class'::regclass, oid FROM pg_catalog.pg_class WHERE relnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_proc'::regclass, oid FROM pg_catalog.pg_proc WHERE pronamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_type'::regclass, oid FROM pg_catalog.pg_type WHERE typnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_operator'::regclass, oid FROM pg_catalog.pg_operator WHERE oprnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_collation'::regclass, oid FROM pg_catalog.pg_collation WHERE collnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_constraint'::regclass, oid FROM pg_catalog.pg_constraint WHERE connamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_opfamily'::regclass, oid FROM pg_catalog.pg_opfamily WHERE opfnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_opclass'::regclass, oid FROM pg_catalog.pg_opclass WHERE opcnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_ts_config'::regclass, oid FROM pg_catalog.pg_ts_config WHERE cfgnamespace = p_schema
    UNION ALL SELECT 'pg_catalog.pg_ts_dict'::regclass, oid FROM pg_catalog.pg_ts_dict WHERE dictnamespace = p_schema
), found AS (
    SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS what
      FROM pg_catalog.pg_depend d
      JOIN inside i ON d.refclassid = i.classid AND d.refobjid = i.objid
     WHERE d.deptype IN ('n', 'a')
       AND schemahost.object_namespace(d.classid, d.objid) IS DISTINCT FROM p_schema
    UNION
    SELECT CASE s.deptype WHEN 'o' THEN 'owned by the project''s role: ' ELSE 'policy naming the project''s role: ' END
           || pg_catalog.pg_describe_object(s.classid, s.objid, s.objsubid)
      FROM pg_catalog.pg_shdepend s
      JOIN pg_catalog.pg_database db ON db.oid = s.dbid AND db.datname = pg_catalog.current_database()
     WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass
       AND s.refobjid = p_role
       AND s.deptype IN ('o', 'r')
       AND schemahost.object_namespace(s.classid, s.objid) IS DISTINCT FROM p_schema
       AND NOT (s.classid = 'pg_catalog.pg_default_acl'::regclass)
)
SELECT what FROM found ORDER BY what
$$;

CREATE FUNCTION schemahost.refuse_if_foreign_dependents(v schemahost.project) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_list text[];
BEGIN
    v_list := ARRAY(SELECT schemahost.foreign_dependents(v.schema_oid, v.role_oid));
    IF cardinality(v_list) > 0 THEN
        RAISE EXCEPTION 'cannot drop project "%" because objects outside it depend on it', v.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  DETAIL = format('%s object(s): %s', cardinality(v_list), array_to_string(v_list, '; ')),
                  HINT = 'Drop these objects or remove their dependency on the project, then retry.';
    END IF;
END
$$;

-- Removes everything of a locked project: sessions, schema, grants, default
-- privileges, role, registry row; writes the 'purged' event.
CREATE FUNCTION schemahost.purge_project(v schemahost.project) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_schema name;
    v_role name;
    v_detail text;
BEGIN
    PERFORM schemahost.refuse_if_foreign_dependents(v);
    SELECT nspname INTO v_schema FROM pg_catalog.pg_namespace WHERE oid = v.schema_oid;
    SELECT rolname INTO v_role FROM pg_catalog.pg_authid WHERE oid = v.role_oid;
    IF v_role IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I NOLOGIN', v_role);
        PERFORM schemahost.terminate_sessions(v.role_oid);
    END IF;
    IF v_schema IS NOT NULL THEN
        EXECUTE format('DROP SCHEMA %I CASCADE', v_schema);
    END IF;
    IF v_role IS NOT NULL THEN
        -- Grants on this database and its schemas, default privileges, and
        -- anything else the role still owns here.
        EXECUTE format('DROP OWNED BY %I', v_role);
        BEGIN
            EXECUTE format('DROP ROLE %I', v_role);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            GET STACKED DIAGNOSTICS v_detail = PG_EXCEPTION_DETAIL;
            RAISE EXCEPTION 'cannot purge project "%": its role still has objects or privileges elsewhere', v.name
                USING ERRCODE = 'dependent_objects_still_exist', DETAIL = v_detail,
                      HINT = format('Run DROP OWNED BY %I; in each database listed, then retry.', v_role);
        END;
    END IF;
    DELETE FROM schemahost.project p WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'purged',
        jsonb_build_object('previous_state', v.state, 'dropped_at', v.dropped_at,
                           'owner_email', v.owner_email));
    PERFORM schemahost.project_changed(v.name);
END
$$;

-- ---------------------------------------------------------------------------
-- The public API.

CREATE FUNCTION create_project_schema(name text, owner_email text DEFAULT NULL,
                                      storage_quota text DEFAULT NULL,
                                      max_connections integer DEFAULT NULL)
    RETURNS TABLE (project text, role text, password text, connection_uri text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_name text;
    v_email text;
    v_quota bigint;
    v_conns integer;
    v_schema_oid oid;
    v_role_oid oid;
    v_password text;
    v_uri text;
    v_state text;
BEGIN
    -- The C function also loads the library, so the GUCs below are defined.
    v_name := schemahost.check_project_name(create_project_schema.name);
    PERFORM schemahost.warn_if_not_preloaded();
    v_email := schemahost.check_owner_email(create_project_schema.owner_email);
    v_quota := schemahost.parse_storage_quota(
        coalesce(create_project_schema.storage_quota, current_setting('schemahost.default_storage_quota')));
    v_conns := schemahost.check_max_connections(
        coalesce(create_project_schema.max_connections, current_setting('schemahost.default_max_connections')::integer));

    PERFORM schemahost.lock_database_acl();
    PERFORM schemahost.lock_project_name(v_name);

    SELECT p.state INTO v_state FROM schemahost.project p WHERE p.name = v_name;
    IF FOUND THEN
        RAISE EXCEPTION 'project "%" already exists', v_name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = format('Its state is %s.', v_state),
                  HINT = CASE WHEN v_state = 'dropped'
                              THEN format('restore_project(%L) brings it back; drop_project_schema(%L, purge => true) removes it for good.', v_name, v_name)
                              ELSE 'Choose another name.' END;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_authid WHERE rolname = v_name) THEN
        RAISE EXCEPTION 'role "%" already exists', v_name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'A project''s name is also the name of its login role, and roles are shared by every database of the cluster.',
                  HINT = 'Choose another name.';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = v_name) THEN
        RAISE EXCEPTION 'schema "%" already exists', v_name
            USING ERRCODE = 'duplicate_schema',
                  DETAIL = 'A project''s name is also the name of its schema.',
                  HINT = 'Choose another name.';
    END IF;

    BEGIN
        EXECUTE format('CREATE SCHEMA %I', v_name);
        EXECUTE format('REVOKE ALL ON SCHEMA %I FROM PUBLIC', v_name);
        EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS CONNECTION LIMIT %s',
                       v_name, v_conns);
        EXECUTE format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', v_name, v_name);
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), v_name);
        EXECUTE format('ALTER ROLE %I SET search_path = %I', v_name, v_name);
        -- Functions and types are usable by PUBLIC by default; other tenants
        -- cannot reach the schema anyway, but nothing of a project is meant
        -- for anyone else.
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC', v_name);
        EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I REVOKE USAGE ON TYPES FROM PUBLIC', v_name);

        SELECT oid INTO v_schema_oid FROM pg_catalog.pg_namespace WHERE nspname = v_name;
        SELECT oid INTO v_role_oid FROM pg_catalog.pg_authid WHERE rolname = v_name;
        INSERT INTO schemahost.project (name, schema_oid, role_oid, state, owner_email,
                                        storage_quota_bytes, max_connections)
        VALUES (v_name, v_schema_oid, v_role_oid, 'active', v_email, v_quota, v_conns);

        SELECT c.password, c.connection_uri INTO v_password, v_uri
          FROM schemahost.new_credentials(v_name) c;
    EXCEPTION WHEN unique_violation THEN
        -- Another session (e.g. in another database, or a plain CREATE ROLE)
        -- created the name between our check and our insert.
        RAISE EXCEPTION 'project "%" already exists', v_name
            USING ERRCODE = 'duplicate_object',
                  DETAIL = 'A role, schema or project of that name was created concurrently.',
                  HINT = 'Choose another name.';
    END;

    PERFORM schemahost.project_changed(v_name);
    RETURN QUERY SELECT v_name, v_name, v_password, v_uri;
END
$$;
COMMENT ON FUNCTION create_project_schema(text, text, text, integer) IS
    'creates a project: schema, login role and registry row; returns its password (shown once) and connection URI';

CREATE FUNCTION drop_project_schema(name text, purge boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
    v_grace interval;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    IF drop_project_schema.purge IS NULL THEN
        RAISE EXCEPTION 'purge must not be null'
            USING ERRCODE = 'null_value_not_allowed', HINT = 'Pass purge => true to remove the project at once, or leave it out.';
    END IF;
    IF drop_project_schema.purge THEN
        PERFORM schemahost.lock_database_acl();
    END IF;
    v := schemahost.lock_project(drop_project_schema.name);

    IF drop_project_schema.purge THEN
        PERFORM schemahost.purge_project(v);
        RAISE NOTICE 'project "%" purged', v.name;
        RETURN;
    END IF;

    IF v.state = 'dropped' THEN
        RAISE EXCEPTION 'project "%" is already dropped', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('It will be purged after %s.', v.purge_after),
                  HINT = format('restore_project(%L) brings it back; drop_project_schema(%L, purge => true) removes it now.', v.name, v.name);
    END IF;
    PERFORM schemahost.refuse_if_foreign_dependents(v);

    BEGIN
        v_grace := current_setting('schemahost.drop_grace')::interval;
    EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
        RAISE EXCEPTION 'invalid schemahost.drop_grace: "%"', current_setting('schemahost.drop_grace')
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Set schemahost.drop_grace to an interval such as ''7 days''.';
    END;

    EXECUTE format('ALTER ROLE %I NOLOGIN', (SELECT rolname FROM pg_catalog.pg_authid WHERE oid = v.role_oid));
    PERFORM schemahost.terminate_sessions(v.role_oid);
    UPDATE schemahost.project p
       SET state = 'dropped', dropped_at = now(), purge_after = now() + v_grace
     WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'dropped',
        jsonb_build_object('purge_after', now() + v_grace, 'previous_state', v.state));
    PERFORM schemahost.project_changed(v.name);
    RAISE NOTICE 'project "%" dropped; its data is kept until %', v.name, now() + v_grace
        USING HINT = format('restore_project(%L) brings it back until then.', v.name);
END
$$;
COMMENT ON FUNCTION drop_project_schema(text, boolean) IS
    'disables a project''s login and ends its sessions; its data is purged after schemahost.drop_grace, or at once with purge => true';

CREATE FUNCTION restore_project(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
    v_role name;
    v_state text;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    v := schemahost.lock_project(restore_project.name);
    IF v.state <> 'dropped' THEN
        RAISE EXCEPTION 'project "%" is not dropped', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its state is %s.', v.state),
                  HINT = 'Only a dropped project can be restored.';
    END IF;
    SELECT rolname INTO v_role FROM pg_catalog.pg_authid WHERE oid = v.role_oid;
    IF v_role IS NULL OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE oid = v.schema_oid) THEN
        RAISE EXCEPTION 'cannot restore project "%": its role or schema no longer exists', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = format('drop_project_schema(%L, purge => true) removes what is left.', v.name);
    END IF;
    -- Back to the state it was dropped from: a suspended project stays suspended.
    SELECT e.payload->>'previous_state' INTO v_state
      FROM schemahost.event e
     WHERE e.project = v.name AND e.kind = 'dropped'
     ORDER BY e.id DESC LIMIT 1;
    v_state := CASE WHEN v_state = 'suspended' THEN 'suspended' ELSE 'active' END;
    IF v_state = 'active' THEN
        EXECUTE format('ALTER ROLE %I LOGIN', v_role);
    END IF;
    UPDATE schemahost.project p SET state = v_state, dropped_at = NULL, purge_after = NULL
     WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'restored', jsonb_build_object('state', v_state));
    PERFORM schemahost.project_changed(v.name);
END
$$;
COMMENT ON FUNCTION restore_project(text) IS 'brings a dropped project back before its purge';

CREATE FUNCTION suspend_project(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    v := schemahost.lock_project(suspend_project.name);
    IF v.state <> 'active' THEN
        RAISE EXCEPTION 'project "%" is not active', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its state is %s.', v.state),
                  HINT = CASE v.state WHEN 'suspended' THEN format('resume_project(%L) turns its login back on.', v.name)
                                      ELSE format('restore_project(%L) brings it back first.', v.name) END;
    END IF;
    EXECUTE format('ALTER ROLE %I NOLOGIN', (SELECT rolname FROM pg_catalog.pg_authid WHERE oid = v.role_oid));
    PERFORM schemahost.terminate_sessions(v.role_oid);
    UPDATE schemahost.project p SET state = 'suspended' WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'suspended');
    PERFORM schemahost.project_changed(v.name);
END
$$;
COMMENT ON FUNCTION suspend_project(text) IS 'turns a project''s login off and ends its sessions';

CREATE FUNCTION resume_project(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    v := schemahost.lock_project(resume_project.name);
    IF v.state <> 'suspended' THEN
        RAISE EXCEPTION 'project "%" is not suspended', v.name
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its state is %s.', v.state),
                  HINT = CASE v.state WHEN 'dropped' THEN format('restore_project(%L) brings it back.', v.name)
                                      ELSE 'Only a suspended project can be resumed.' END;
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN', (SELECT rolname FROM pg_catalog.pg_authid WHERE oid = v.role_oid));
    UPDATE schemahost.project p SET state = 'active' WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'resumed');
    PERFORM schemahost.project_changed(v.name);
END
$$;
COMMENT ON FUNCTION resume_project(text) IS 'turns a suspended project''s login back on';

CREATE FUNCTION reset_project_password(name text)
    RETURNS TABLE (project text, role text, password text, connection_uri text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
    v_role name;
    v_password text;
    v_uri text;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    v := schemahost.lock_live_project(reset_project_password.name);
    SELECT rolname INTO v_role FROM pg_catalog.pg_authid WHERE oid = v.role_oid;
    SELECT c.password, c.connection_uri INTO v_password, v_uri FROM schemahost.new_credentials(v_role) c;
    RETURN QUERY SELECT v.name, v_role::text, v_password, v_uri;
END
$$;
COMMENT ON FUNCTION reset_project_password(text) IS
    'gives the project''s role a new generated password; returns it (shown once) and the connection URI';

CREATE FUNCTION set_project_quota(name text, storage_quota text DEFAULT NULL,
                                  max_connections integer DEFAULT NULL) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
    v_quota bigint;
    v_conns integer;
BEGIN
    PERFORM schemahost.warn_if_not_preloaded();
    IF set_project_quota.storage_quota IS NULL AND set_project_quota.max_connections IS NULL THEN
        RAISE EXCEPTION 'no quota given'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass storage_quota => ''1 GB'' and/or max_connections => 20.';
    END IF;
    v := schemahost.lock_live_project(set_project_quota.name);
    v_quota := CASE WHEN set_project_quota.storage_quota IS NULL THEN v.storage_quota_bytes
                    ELSE schemahost.parse_storage_quota(set_project_quota.storage_quota) END;
    v_conns := CASE WHEN set_project_quota.max_connections IS NULL THEN v.max_connections
                    ELSE schemahost.check_max_connections(set_project_quota.max_connections) END;
    -- Lowering a quota below current usage only blocks further growth (the
    -- enforcement part); nothing is ever deleted. Sessions beyond a lowered
    -- connection limit stay until they disconnect.
    EXECUTE format('ALTER ROLE %I CONNECTION LIMIT %s',
                   (SELECT rolname FROM pg_catalog.pg_authid WHERE oid = v.role_oid), v_conns);
    UPDATE schemahost.project p SET storage_quota_bytes = v_quota, max_connections = v_conns
     WHERE p.name = v.name;
    PERFORM schemahost.project_changed(v.name);
END
$$;
COMMENT ON FUNCTION set_project_quota(text, text, integer) IS
    'changes a project''s storage and/or connection quota';

CREATE VIEW projects AS
    SELECT p.name, p.state, p.owner_email, p.storage_quota_bytes, p.max_connections, p.created_at,
           p.purge_after
      FROM schemahost.project p
     ORDER BY p.name;
COMMENT ON VIEW projects IS 'one row per project';

-- Called by schemahostd on every pass. Each project is purged in a
-- subtransaction of its own, so one that cannot be purged (objects outside it
-- depend on it) is reported in a WARNING and retried next pass, without
-- holding back the others.
CREATE FUNCTION schemahost_purge_expired() RETURNS SETOF text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_name text;
    v schemahost.project;
    v_msg text;
    v_detail text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM schemahost.project p
                   WHERE p.state = 'dropped' AND p.purge_after <= now()) THEN
        RETURN;
    END IF;
    PERFORM schemahost.lock_database_acl();
    FOR v_name IN SELECT p.name FROM schemahost.project p
                  WHERE p.state = 'dropped' AND p.purge_after <= now()
                  ORDER BY p.purge_after, p.name LOOP
        BEGIN
            -- Someone else is working on it: it is retried next pass.
            CONTINUE WHEN NOT pg_catalog.pg_try_advisory_xact_lock(
                pg_catalog.hashtext('schemahost.project'), pg_catalog.hashtext(v_name));
            SELECT * INTO v FROM schemahost.project p WHERE p.name = v_name FOR UPDATE;
            CONTINUE WHEN NOT FOUND OR v.state <> 'dropped' OR v.purge_after > now();
            PERFORM schemahost.purge_project(v);
            RETURN NEXT v_name;
        EXCEPTION WHEN OTHERS THEN
            GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_detail = PG_EXCEPTION_DETAIL;
            RAISE WARNING 'could not purge project "%": %', v_name, v_msg
                USING DETAIL = coalesce(v_detail, ''),
                      HINT = format('Fix the cause, or restore_project(%L).', v_name);
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION schemahost_purge_expired() IS
    'purges the dropped projects whose grace period is over; returns their names (for schemahostd)';

-- ---------------------------------------------------------------------------
-- Privileges: the admin API is for schemahost_admin, the purge for the daemon.

REVOKE ALL ON FUNCTION create_project_schema(text, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION drop_project_schema(text, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION restore_project(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION suspend_project(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION resume_project(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION reset_project_password(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION set_project_quota(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_purge_expired() FROM PUBLIC;
REVOKE ALL ON projects FROM PUBLIC;

GRANT EXECUTE ON FUNCTION create_project_schema(text, text, text, integer) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION drop_project_schema(text, boolean) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION restore_project(text) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION suspend_project(text) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION resume_project(text) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION reset_project_password(text) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION set_project_quota(text, text, integer) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION schemahost_purge_expired() TO schemahost_daemon;
GRANT SELECT ON projects TO schemahost_admin;

-- The helpers are only called from the functions above (as their owner).
REVOKE ALL ON FUNCTION schemahost.warn_if_not_preloaded() FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.lock_database_acl() FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.lock_project_name(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.lock_project(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.lock_live_project(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.project_changed(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.write_event(text, text, jsonb) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.terminate_sessions(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.refuse_if_foreign_dependents(schemahost.project) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost.purge_project(schemahost.project) FROM PUBLIC;
