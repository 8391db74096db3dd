-- schemahost 0.1.0 -> 0.1.1: upgrade script.
--
-- 0.1.0 is released, so its install script (sql/0.1.0/*.sql, guarded by
-- sql/released.sha256) never changes again. Every SQL change of 0.1.1 goes
-- here instead, and reaches both kinds of databases:
--   - existing 0.1.0 installations: ALTER EXTENSION schemahost UPDATE runs
--     this file once;
--   - new installations: 0.1.1 has no install script of its own, so
--     CREATE EXTENSION schemahost installs schemahost--0.1.0.sql and then runs
--     this file (PostgreSQL's update path).
-- So write every statement to apply on top of 0.1.0 exactly as released:
-- CREATE OR REPLACE FUNCTION for a changed function body (same signature and
-- result type; a changed signature needs DROP FUNCTION first), ALTER TABLE ...
-- ADD COLUMN with a default for new columns, GRANT/REVOKE again for new
-- objects. The script runs in one transaction with search_path set to the
-- schema the extension was created in (normally public): unqualified names
-- land in the public API, internals are qualified with schemahost. Objects
-- created here become members of the extension.
--
-- Once 0.1.1 is released this file is frozen too (add its hash to
-- sql/released.sha256); later changes go into schemahost--0.1.1--<next>.sql.

\echo Use "ALTER EXTENSION schemahost UPDATE" to load this file. \quit

-- ---------------------------------------------------------------------------
-- Faster full refresh (issue: storage quotas, refresh benchmark).

-- 0.1.0 declared quota_next_state STRICT. A STRICT SQL function is only
-- inlined when its body is strict too, and a CASE is not, so every project of
-- a refresh paid a call through the SQL-function executor (~4 us each,
-- ~40 ms of a full refresh of 10,000 projects). Without STRICT it is inlined;
-- a NULL argument still gives NULL, as before. The third branch answers the
-- common case (well under every threshold) with bigint arithmetic: the
-- numeric comparisons after it cost ~0.5 us a project. It only says 'ok'
-- where they would: with used_bytes >= 0, quota_bytes > 0 and p between 0
-- and 99, used_bytes < (quota_bytes / 100) * p implies used_bytes * 100 <
-- quota_bytes * p, and p is at most each threshold below (release_percent,
-- warn_percent - 5 < warn_percent); the product is below quota_bytes, so it
-- cannot overflow (nor can greatest(warn_percent, 5) - 5, unlike
-- warn_percent - 5 for a warn_percent near the integer minimum).
CREATE OR REPLACE FUNCTION schemahost.quota_next_state(old_state text, used_bytes bigint,
                                                       quota_bytes bigint, warn_percent integer,
                                                       release_percent integer)
    RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$
SELECT CASE
    WHEN old_state IS NULL OR used_bytes IS NULL OR quota_bytes IS NULL OR warn_percent IS NULL
         OR release_percent IS NULL THEN NULL
    WHEN used_bytes >= quota_bytes THEN 'over'
    WHEN used_bytes >= 0 AND quota_bytes > 0
         AND used_bytes < quota_bytes / 100 * greatest(least(release_percent, greatest(warn_percent, 5) - 5, 99), 0)
        THEN 'ok'
    WHEN old_state = 'over' AND used_bytes::numeric * 100 >= quota_bytes::numeric * release_percent
        THEN 'over'
    WHEN used_bytes::numeric * 100 >= quota_bytes::numeric * warn_percent THEN 'warning'
    WHEN old_state IN ('warning', 'over')
         AND used_bytes::numeric * 100 >= quota_bytes::numeric * greatest(warn_percent - 5, 0)
        THEN 'warning'
    ELSE 'ok'
END
$$;

-- Relations of open transactions (found by an adversarial audit): a refresh
-- read committed catalog rows only, so the files of a relation created or
-- rewritten by a transaction still open (CREATE TABLE AS, TRUNCATE then
-- INSERT) went uncounted until it ended. _usage_measure now reads the
-- catalogs with a dirty snapshot in a full refresh, and in an incremental one
-- for the schemas in in_progress: those whose role has an open writing
-- transaction (extension/usage_measure.cpp). New argument, so the function
-- is created anew; its planner support function is attached further down.
DROP FUNCTION schemahost._usage_measure(oid[], boolean);
CREATE FUNCTION schemahost._usage_measure(nsps oid[], full boolean, in_progress oid[] DEFAULT '{}')
    RETURNS TABLE (nsp oid, bytes bigint)
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_usage_measure';
REVOKE EXECUTE ON FUNCTION schemahost._usage_measure(oid[], boolean, oid[]) FROM PUBLIC;

-- Unchanged from 0.1.0 except that a full refresh (p_complete) passes only
-- the projects whose usage row changes to the upsert and deletes orphaned
-- usage rows only when there are some, that sessions whose write survived
-- the cancel of an over project are terminated, that the schemas with an
-- open writing transaction (p_open) are passed on to _usage_measure, and
-- that the projects and their bytes come back as two arrays (the caller
-- returned them row by row once more: ~3 ms of 10,000 projects). New
-- argument and result: created anew.
DROP FUNCTION schemahost._quota_apply(oid[], boolean, boolean);
CREATE FUNCTION schemahost._quota_apply(p_targets oid[], p_measure boolean, p_complete boolean,
                                        p_open oid[] DEFAULT '{}', OUT projects text[],
                                        OUT bytes bigint[])
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_active boolean := schemahost.quota_enforcement_active(); -- also loads the library (GUCs)
    v_warn integer := current_setting('schemahost.warn_percent')::integer;
    v_release integer := current_setting('schemahost.release_percent')::integer;
    v_names text[];
    v_nsps oid[];
    v_roles oid[];
    v_quotas bigint[];
    v_used bigint[];
    v_states text[];
    v_over_roles oid[];
    v_failed integer;
BEGIN
    WITH measured AS (
        SELECT m.nsp, m.bytes
          FROM schemahost._usage_measure(p_targets, p_complete, p_open) m
         WHERE p_measure
        UNION ALL
        SELECT p.schema_oid, coalesce(u.used_bytes, 0)
          FROM schemahost.project p LEFT JOIN schemahost.usage u ON u.project = p.name
         WHERE NOT p_measure AND p.schema_oid = ANY (p_targets)
    ), cur AS (
        SELECT p.name, p.schema_oid, p.role_oid, p.storage_quota_bytes AS quota, m.bytes AS used,
               coalesce(u.state, 'ok') AS old_state, u.measured_at AS old_measured_at,
               u.used_bytes AS old_used, u.quota_bytes AS old_quota, u.schema_oid AS old_nsp,
               u.role_oid AS old_role
          FROM measured m
          JOIN schemahost.project p ON p.schema_oid = m.nsp
          LEFT JOIN schemahost.usage u ON u.project = p.name
    ), nxt AS (
        SELECT c.*, schemahost.quota_next_state(c.old_state, c.used, c.quota, v_warn, v_release)
                    AS new_state
          FROM cur c
    ), ev AS (
        INSERT INTO schemahost.event (project, kind, payload)
        SELECT n.name, 'quota_' || n.new_state,
               jsonb_build_object('used_bytes', n.used, 'quota_bytes', n.quota,
                                  'percent', round(100.0 * n.used / n.quota, 1),
                                  'previous_state', n.old_state)
          FROM nxt n
         WHERE n.new_state <> n.old_state
        RETURNING 1
    ), up AS (
        INSERT INTO schemahost.usage AS u (project, schema_oid, role_oid, quota_bytes, used_bytes,
                                           state, measured_at, state_since)
        SELECT n.name, n.schema_oid, n.role_oid, n.quota, n.used, n.new_state,
               CASE WHEN p_measure THEN now() ELSE n.old_measured_at END, now()
          FROM nxt n
         -- A full refresh leaves unchanged rows alone without a trip through
         -- ON CONFLICT for each of them (0.1.1: ~20 ms of 10,000 projects).
         WHERE NOT p_complete OR n.old_measured_at IS NULL
            OR (n.used, n.new_state, n.quota, n.schema_oid, n.role_oid)
               IS DISTINCT FROM (n.old_used, n.old_state, n.old_quota, n.old_nsp, n.old_role)
        ON CONFLICT (project) DO UPDATE
           SET schema_oid = excluded.schema_oid, role_oid = excluded.role_oid,
               quota_bytes = excluded.quota_bytes, used_bytes = excluded.used_bytes,
               state = excluded.state, measured_at = excluded.measured_at,
               state_since = CASE WHEN u.state = excluded.state THEN u.state_since ELSE now() END
         WHERE NOT p_complete OR u.measured_at IS NULL
            OR (u.used_bytes, u.state, u.quota_bytes, u.schema_oid, u.role_oid)
               IS DISTINCT FROM (excluded.used_bytes, excluded.state, excluded.quota_bytes,
                                 excluded.schema_oid, excluded.role_oid)
        RETURNING 1
    )
    SELECT array_agg(n.name), array_agg(n.schema_oid), array_agg(coalesce(n.role_oid, 0::oid)),
           array_agg(n.quota), array_agg(n.used), array_agg(n.new_state),
           array_agg(n.role_oid) FILTER (WHERE n.new_state = 'over' AND n.old_state <> 'over'
                                           AND n.role_oid IS NOT NULL)
      INTO v_names, v_nsps, v_roles, v_quotas, v_used, v_states, v_over_roles
      FROM nxt n; -- ev and up run to completion whether read or not

    v_failed := schemahost._quota_publish(coalesce(v_nsps, '{}'), coalesce(v_roles, '{}'),
                                          coalesce(v_names, '{}'), coalesce(v_quotas, '{}'),
                                          coalesce(v_used, '{}'), coalesce(v_states, '{}'),
                                          p_complete, p_measure);
    IF v_failed > 0 THEN
        RAISE WARNING '% project(s) do not fit into the shared-memory quota table', v_failed
            USING DETAIL = format('schemahost.max_projects is %s; writes of these projects are not checked.',
                                  current_setting('schemahost.max_projects', true)),
                  HINT = 'Raise schemahost.max_projects and restart the server.';
    END IF;

    -- Bound the overshoot: statements already running in sessions that hold
    -- an open write were admitted before the block; cancel them.
    IF v_over_roles IS NOT NULL AND v_active THEN
        PERFORM pg_catalog.pg_cancel_backend(a.pid)
           FROM pg_catalog.pg_stat_activity a
          WHERE a.usesysid = ANY (v_over_roles)
            AND a.backend_xid IS NOT NULL
            AND a.datname = current_database()
            AND a.pid <> pg_catalog.pg_backend_pid();
    END IF;

    -- 0.1.1: a statement that was running when its project went over and is
    -- still running at a later refresh survived that cancel (a PL/pgSQL
    -- handler can catch query_canceled): end its session. Only statements
    -- that started before the block qualify: anything started since was
    -- either refused or cannot grow the project. (Only when a target is
    -- over: pg_stat_activity is not read on every refresh for nothing.)
    IF v_active AND 'over' = ANY (v_states) THEN
        PERFORM pg_catalog.pg_terminate_backend(a.pid)
           FROM pg_catalog.pg_stat_activity a
           JOIN schemahost.usage u ON u.role_oid = a.usesysid
          WHERE u.state = 'over'
            AND u.state_since < pg_catalog.now() -- over before this refresh
            AND u.schema_oid = ANY (p_targets)
            AND a.state = 'active'
            AND a.backend_xid IS NOT NULL
            AND a.query_start < u.state_since
            AND a.datname = current_database()
            AND a.pid <> pg_catalog.pg_backend_pid();
    END IF;

    IF p_complete THEN
        UPDATE schemahost.usage_refresh SET last_full_at = now();
        -- Every project with a schema has a usage row by now (quota_sync
        -- gives one at creation, this refresh to every target): more usage
        -- rows than such projects means rows of projects gone. Both counts
        -- in one statement, so a project dropped meanwhile is in neither (the
        -- anti-join costs ~4 ms of 10,000 projects, the counts ~1.5).
        IF (SELECT count(*) FROM schemahost.usage)
           > (SELECT count(*) FROM schemahost.project p WHERE p.schema_oid IS NOT NULL) THEN
            DELETE FROM schemahost.usage u
             WHERE NOT EXISTS (SELECT 1 FROM schemahost.project p
                                WHERE p.name = u.project AND p.schema_oid IS NOT NULL);
        END IF;
    END IF;

    projects := coalesce(v_names, '{}');
    bytes := coalesce(v_used, '{}');
END
$$;
REVOKE EXECUTE ON FUNCTION schemahost._quota_apply(oid[], boolean, boolean, oid[]) FROM PUBLIC;

-- Row estimates for _usage_measure (one row per project asked for), so that
-- _quota_apply joins an incremental refresh's few projects by index and a
-- full refresh's many by hash (extension/usage_measure.cpp).
CREATE FUNCTION schemahost._usage_measure_support(internal)
    RETURNS internal
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_usage_measure_support';
REVOKE EXECUTE ON FUNCTION schemahost._usage_measure_support(internal) FROM PUBLIC;
ALTER FUNCTION schemahost._usage_measure(oid[], boolean, oid[])
    SUPPORT schemahost._usage_measure_support;

-- ---------------------------------------------------------------------------
-- Long writes (found by an acceptance audit): a statement that keeps writing
-- across refreshes was measured once, at the refresh that cleared its
-- project's written flag, and then not again until it ended. Projects whose
-- role has an open transaction that has written are now measured on every
-- incremental refresh, their catalog rows read with a dirty snapshot (the
-- relations that transaction created or rewrote). Unchanged from 0.1.0
-- otherwise.
CREATE OR REPLACE FUNCTION schemahost_refresh_usage(full boolean DEFAULT false)
    RETURNS TABLE (project text, used_bytes bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_full boolean := coalesce(schemahost_refresh_usage.full, false);
    v_names text[];
    v_used bigint[];
    v_dirty oid[];
    v_open oid[];
    v_targets oid[];
BEGIN
    -- One refresh at a time per database: two would write the same
    -- transition twice.
    PERFORM schemahost.take_xact_lock(5346281, 30);
    -- Always taken (it clears the written flags, also before a full
    -- refresh). NULL: no preload, or shared memory not filled since the
    -- server started: only a full refresh is complete then.
    v_dirty := schemahost._usage_take_dirty();
    v_full := v_full OR v_dirty IS NULL;
    IF v_full THEN
        v_targets := ARRAY(SELECT p.schema_oid FROM schemahost.project p
                            WHERE p.schema_oid IS NOT NULL);
    ELSE
        -- (0.1.1) Projects with a transaction of their role that has
        -- written and is still open: one long statement keeps growing its
        -- files after the refresh that cleared its written flag, and must be
        -- measured on every refresh until it ends; and the relations that
        -- transaction created or rewrote are only found by reading the
        -- catalogs with a dirty snapshot.
        v_open := ARRAY(SELECT DISTINCT p.schema_oid
                          FROM pg_catalog.pg_stat_activity a
                          JOIN schemahost.project p ON p.role_oid = a.usesysid
                         WHERE a.backend_xid IS NOT NULL
                           AND a.datname = pg_catalog.current_database()
                           AND p.schema_oid IS NOT NULL);
        -- Written since the last refresh, or not ok, or open as above. A
        -- project created or changed without schemahost.quota_sync() is
        -- picked up by the next full refresh.
        v_targets := ARRAY(SELECT DISTINCT t.nsp
                             FROM (SELECT unnest(v_dirty) UNION ALL SELECT unnest(v_open)) AS t(nsp));
    END IF;
    SELECT a.projects, a.bytes INTO v_names, v_used
      FROM schemahost._quota_apply(v_targets, true, v_full, coalesce(v_open, '{}')) a;
    RETURN QUERY SELECT t.name, t.used FROM unnest(v_names, v_used) AS t(name, used);
END
$$;

-- ---------------------------------------------------------------------------
-- Alerts and events, found by an operator walkthrough (0.1.1).

-- A purged project that was muted (or had opted out of webhooks) still got
-- deliveries for its 'purged' event: its preference row is deleted with the
-- project row, before the event is written. Unchanged from 0.1.0 otherwise.
CREATE OR REPLACE FUNCTION schemahost.purge_project(v schemahost.project) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_schema name;
    v_role name;
    v_detail text;
    v_muted boolean;
    v_webhook boolean;
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
    -- The alert preferences go with the project row, before the event that
    -- says it is gone: keep what they said for that event's deliveries.
    SELECT a.muted, a.webhook INTO v_muted, v_webhook
      FROM schemahost.alert_preference a WHERE a.project = v.name;
    DELETE FROM schemahost.project p WHERE p.name = v.name;
    PERFORM schemahost.write_event(v.name, 'purged',
        jsonb_build_object('previous_state', v.state, 'dropped_at', v.dropped_at,
                           'owner_email', v.owner_email));
    IF coalesce(v_muted, false) OR NOT coalesce(v_webhook, true) THEN
        UPDATE schemahost.delivery d
           SET status = 'cancelled',
               last_error = CASE WHEN v_muted THEN 'project muted by the operator'
                                 ELSE 'project opted out of webhooks' END
          FROM schemahost.event e
         WHERE e.id = d.event AND e.project = v.name AND e.kind = 'purged'
           AND d.status = 'pending' AND (v_muted OR d.channel = 'webhook');
    END IF;
    PERFORM schemahost.project_changed(v.name);
END
$$;

-- Opting out of webhooks now also cancels the webhook deliveries still
-- waiting, as muting cancels all of them. Unchanged from 0.1.0 otherwise.
CREATE OR REPLACE FUNCTION set_project_alerts(name text, owner_email text DEFAULT NULL,
                                   webhook boolean DEFAULT NULL, muted boolean DEFAULT NULL,
                                   OUT project text, OUT owner_email_out text,
                                   OUT webhook_out boolean, OUT muted_out boolean)
    RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    p_name   text := set_project_alerts.name;
    p_email  text := set_project_alerts.owner_email;
    cancelled bigint;
BEGIN
    -- Serialized with the other lifecycle operations on the project; 22004
    -- for a NULL name, 42704 for an unknown one.
    PERFORM schemahost.lock_project(p_name);

    IF p_email IS NOT NULL THEN
        p_email := btrim(p_email);
        IF p_email = '' THEN
            -- An empty string removes the address: no more email alerts.
            UPDATE schemahost.project p SET owner_email = NULL WHERE p.name = p_name;
        ELSE
            UPDATE schemahost.project p SET owner_email = schemahost.check_owner_email(p_email)
             WHERE p.name = p_name;
        END IF;
    END IF;

    INSERT INTO schemahost.alert_preference AS a (project, webhook, muted)
    VALUES (p_name, COALESCE(set_project_alerts.webhook, true),
            COALESCE(set_project_alerts.muted, false))
    ON CONFLICT ON CONSTRAINT alert_preference_pkey DO UPDATE
        SET webhook = COALESCE(set_project_alerts.webhook, a.webhook),
            muted = COALESCE(set_project_alerts.muted, a.muted);

    -- Muting also stops what is still waiting to be sent; so does opting out
    -- of webhooks, for the webhook deliveries (0.1.1: they stayed pending).
    IF set_project_alerts.muted OR NOT set_project_alerts.webhook THEN
        UPDATE schemahost.delivery d
           SET status = 'cancelled',
               last_error = CASE WHEN set_project_alerts.muted THEN 'project muted by the operator'
                                 ELSE 'project opted out of webhooks' END,
               claimed_pid = NULL, claimed_backend_start = NULL, claimed_at = NULL
          FROM schemahost.event e
         WHERE e.id = d.event AND e.project = p_name AND d.status = 'pending'
           AND (set_project_alerts.muted OR d.channel = 'webhook');
        GET DIAGNOSTICS cancelled = ROW_COUNT;
        IF cancelled > 0 THEN
            RAISE NOTICE 'cancelled % pending alert deliveries of project "%"', cancelled, p_name;
        END IF;
    END IF;

    SELECT p.name, p.owner_email, COALESCE(a.webhook, true), COALESCE(a.muted, false)
      INTO project, owner_email_out, webhook_out, muted_out
      FROM schemahost.project p
      LEFT JOIN schemahost.alert_preference a ON a.project = p.name
     WHERE p.name = p_name;
END
$$;

-- The hint said "or NULL for none", which is right for create_project_schema
-- but not for set_project_alerts (NULL keeps the address, '' removes it).
CREATE OR REPLACE FUNCTION schemahost.check_owner_email(p_email text) RETURNS text
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
                  HINT = 'Give a single address without a display name.';
    END IF;
    RETURN p_email;
END
$$;

-- Events for operators who are not superusers: schemahost.event is internal,
-- so a member of schemahost_admin saw events only through LISTEN, never past
-- ones.
CREATE VIEW project_events AS
SELECT e.id, e.event_id, e.project, e.kind, e.payload, e.occurred_at
  FROM schemahost.event e;
COMMENT ON VIEW project_events IS
    'every project''s events (quota transitions, lifecycle, runtime limits), as long as retention keeps them';
GRANT SELECT ON project_events TO schemahost_admin;

-- ---------------------------------------------------------------------------
-- Tenants holding schemahost's advisory locks (found by a security audit).
-- Advisory locks are open to every role: a tenant that took the keys of the
-- functions below and stayed connected stopped usage refreshes (a project
-- over its quota stayed "ok"), runtime limits, the daemon (which went to
-- standby behind the tenant's session) and every lifecycle call, for the
-- whole database. No role but an operator (schemahost_admin) or the daemon
-- (schemahost_daemon) has a reason to hold them: a session of any other role
-- found holding one is ended, and only the others are waited for.

-- Ends the sessions of other roles that hold the advisory lock with these
-- pg_locks keys in this database; returns how many it ended.
CREATE FUNCTION schemahost.end_unprivileged_lock_holders(p_classid oid, p_objid oid,
                                                         p_objsubid integer)
    RETURNS integer
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
    SELECT count(*) FILTER (WHERE t.ended)::integer
      FROM (SELECT pg_catalog.pg_terminate_backend(l.pid, 5000) AS ended
              FROM pg_catalog.pg_locks l
              JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted
               AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d
                                  WHERE d.datname = pg_catalog.current_database())
               AND l.classid = p_classid AND l.objid = p_objid AND l.objsubid = p_objsubid
               AND l.pid <> pg_catalog.pg_backend_pid()
               AND NOT pg_catalog.pg_has_role(a.usesysid, 'schemahost_admin', 'MEMBER')
               AND NOT pg_catalog.pg_has_role(a.usesysid, 'schemahost_daemon', 'MEMBER')) t
$$;
REVOKE ALL ON FUNCTION schemahost.end_unprivileged_lock_holders(oid, oid, integer) FROM PUBLIC;

-- Tries the advisory lock (k1, k2), transaction- or session-level; when it
-- is held, ends the sessions of other roles that hold it and tries once more.
-- False: an operator or the daemon holds it (or another session of that
-- other role took it meanwhile).
CREATE FUNCTION schemahost.try_lock(k1 integer, k2 integer, p_session boolean DEFAULT false)
    RETURNS boolean
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_got boolean;
BEGIN
    FOR i IN 1 .. 2 LOOP
        v_got := CASE WHEN p_session THEN pg_catalog.pg_try_advisory_lock(k1, k2)
                      ELSE pg_catalog.pg_try_advisory_xact_lock(k1, k2) END;
        IF v_got THEN
            RETURN true;
        END IF;
        EXIT WHEN i = 2 OR schemahost.end_unprivileged_lock_holders(k1::oid, k2::oid, 2) = 0;
    END LOOP;
    RETURN false;
END
$$;
REVOKE ALL ON FUNCTION schemahost.try_lock(integer, integer, boolean) FROM PUBLIC;

-- The transaction-level advisory lock (k1, k2), waiting only for operators
-- and the daemon (a few rounds, in case other roles take it again).
CREATE FUNCTION schemahost.take_xact_lock(k1 integer, k2 integer)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    FOR i IN 1 .. 5 LOOP
        IF schemahost.try_lock(k1, k2) THEN
            RETURN;
        END IF;
    END LOOP;
    PERFORM pg_catalog.pg_advisory_xact_lock(k1, k2);
END
$$;
REVOKE ALL ON FUNCTION schemahost.take_xact_lock(integer, integer) FROM PUBLIC;

CREATE OR REPLACE FUNCTION schemahost.lock_project_name(p_name text) RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT schemahost.take_xact_lock(pg_catalog.hashtext('schemahost.project'),
                                           pg_catalog.hashtext(p_name)) $$;

-- 0.1.0 used the one-bigint form of the key; the two-integer form is the one
-- take_xact_lock() knows.
CREATE OR REPLACE FUNCTION schemahost.lock_database_acl() RETURNS void
    LANGUAGE sql
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT schemahost.take_xact_lock(pg_catalog.hashtext('schemahost.database_acl'), 0) $$;

-- A session that is no daemon holding the active-daemon lock is ended, and
-- the lock tried once more.
CREATE OR REPLACE FUNCTION schemahost_daemon_try_lock() RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT schemahost.try_lock(5346281, 4000, p_session => true) $$;

-- A statement cancelled for running past its project's limit said
-- "canceling statement due to user request": the enforcer now leaves a note
-- for it first, and the cancelled backend reports the limit instead
-- (extension/cancel_reason.cpp, cancel_message.cpp). False when the backend
-- is gone or the library is not preloaded (then the report stays as it was).
CREATE FUNCTION schemahost._note_statement_cancel(pid integer, statement_start timestamptz,
                                                  limit_ms bigint, project name)
    RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_note_statement_cancel';
REVOKE EXECUTE ON FUNCTION schemahost._note_statement_cancel(integer, timestamptz, bigint, name)
    FROM PUBLIC;

-- Unchanged from 0.1.0 but for its lock, taken through take_xact_lock(), the
-- note left before a cancel, and the start of a fastpath function call
-- (large objects through libpq's PQfn): PostgreSQL does not set query_start
-- for one, so it was timed from the session's last SQL statement and could
-- be cancelled at once (found by an audit); state_change is its start.
CREATE OR REPLACE FUNCTION schemahost_enforce_runtime_limits()
    RETURNS TABLE (project text, pid integer, action text, limit_ms bigint, duration_ms bigint,
                   reason text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_stmt_default interval := schemahost.runtime_limit_default('schemahost.default_statement_timeout', interval '5 min');
    v_idle_default interval := schemahost.runtime_limit_default('schemahost.default_idle_in_transaction_timeout', interval '1 min');
    v_now timestamptz := pg_catalog.clock_timestamp();
    r record;
    v_payload jsonb;
BEGIN
    -- One enforcer at a time per database (an operator may call it too).
    PERFORM schemahost.take_xact_lock(5346281, 40);
    FOR r IN
        WITH s AS (
            SELECT p.name, p.state AS project_state, a.pid, a.backend_start,
                   a.state IN ('active', 'fastpath function call') AS running,
                   a.state, a.query_start, a.state_change,
                   p.statement_timeout, p.idle_in_transaction_timeout
              FROM pg_catalog.pg_stat_activity a
              JOIN schemahost.project p ON p.role_oid = a.usesysid
             WHERE a.backend_type = 'client backend'
               AND a.pid <> pg_catalog.pg_backend_pid()
        ),
        c AS (
            -- A project that is not active may have no session at all.
            SELECT s.name, s.pid, s.backend_start, 'terminate' AS action,
                   'project_' || s.project_state AS reason,
                   s.backend_start AS since, NULL::interval AS lim
              FROM s
             WHERE s.project_state IN ('suspended', 'dropped')
            UNION ALL
            SELECT s.name, s.pid, s.backend_start,
                   CASE WHEN s.running THEN 'cancel' ELSE 'terminate' END,
                   CASE WHEN s.running THEN 'statement_timeout' ELSE 'idle_in_transaction_timeout' END,
                   CASE WHEN s.running AND s.state = 'active' THEN s.query_start
                        ELSE s.state_change END,
                   CASE WHEN s.running THEN coalesce(s.statement_timeout, v_stmt_default)
                        ELSE coalesce(s.idle_in_transaction_timeout, v_idle_default) END
              FROM s
             WHERE s.project_state = 'active'
               AND s.state IN ('active', 'fastpath function call',
                               'idle in transaction', 'idle in transaction (aborted)')
        )
        SELECT c.*, v_now - c.since AS dur FROM c
         WHERE c.lim IS NULL
            OR (c.lim > interval '0' AND c.since IS NOT NULL AND v_now - c.since > c.lim)
         ORDER BY c.name, c.pid
    LOOP
        IF r.lim IS NULL THEN
            -- Read again (a new snapshot): a project resumed or restored since
            -- the sessions were listed keeps the sessions opened after that.
            CONTINUE WHEN NOT EXISTS (
                SELECT 1 FROM schemahost.project p
                 WHERE p.name = r.name AND 'project_' || p.state = r.reason);
            PERFORM pg_catalog.pg_terminate_backend(r.pid);
        ELSIF r.action = 'cancel' THEN
            PERFORM schemahost._note_statement_cancel(r.pid, r.since,
                                                      (extract(epoch FROM r.lim) * 1000)::bigint,
                                                      r.name);
            PERFORM pg_catalog.pg_cancel_backend(r.pid);
        ELSE
            PERFORM pg_catalog.pg_terminate_backend(r.pid);
        END IF;
        CONTINUE WHEN EXISTS (
            SELECT 1 FROM schemahost.event e
             WHERE e.project = r.name AND e.kind = 'runtime_limit'
               AND e.payload->>'pid' = r.pid::text
               AND e.payload->>'since' = pg_catalog.to_jsonb(r.since) #>> '{}'
               AND e.payload->>'action' = r.action
               AND e.payload->>'reason' = r.reason);
        -- No query text: it is tenant data. No limit for suspended/dropped.
        v_payload := jsonb_strip_nulls(jsonb_build_object(
            'pid', r.pid,
            'action', r.action,
            'reason', r.reason,
            'limit', r.lim::text,
            'limit_ms', (extract(epoch FROM r.lim) * 1000)::bigint,
            'duration_ms', (extract(epoch FROM r.dur) * 1000)::bigint,
            'since', r.since,
            'backend_start', r.backend_start));
        PERFORM schemahost.write_event(r.name, 'runtime_limit', v_payload);
        project := r.name;
        pid := r.pid;
        action := r.action;
        limit_ms := (v_payload->>'limit_ms')::bigint;
        duration_ms := (v_payload->>'duration_ms')::bigint;
        reason := r.reason;
        RETURN NEXT;
    END LOOP;
END
$$;

-- ---------------------------------------------------------------------------
-- LISTEN needs no privilege, so every tenant hears schemahost_events (found by
-- a security audit): the 'purged' event's owner_email, readable only by
-- schemahost_admin in the outbox, was in the notification. It is left out
-- there; the event in project_events keeps it. (Usage numbers stay: relation
-- sizes are visible to every role anyway, docs/isolation.md.)
CREATE OR REPLACE FUNCTION schemahost.event_notification(e schemahost.event)
    RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    doc jsonb := jsonb_build_object(
        'id', e.id, 'event_id', e.event_id, 'project', e.project, 'kind', e.kind,
        'payload', e.payload - 'owner_email', 'occurred_at', e.occurred_at);
BEGIN
    IF octet_length(doc::text) > 7900 THEN
        doc := doc - 'payload' || jsonb_build_object('payload_truncated', true);
    END IF;
    RETURN doc::text;
END
$$;

-- The purge of expired projects skipped a project whose name lock was held,
-- and a tenant could hold it for ever; it now ends such a session first, as
-- through try_lock(). Unchanged from 0.1.0 otherwise.
CREATE OR REPLACE FUNCTION schemahost_purge_expired() RETURNS SETOF text
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
            -- Someone else is working on it: it is retried next pass. (0.1.1:
            -- unless that someone is a session of an unprivileged role, which
            -- is ended.)
            CONTINUE WHEN NOT schemahost.try_lock(pg_catalog.hashtext('schemahost.project'),
                                                  pg_catalog.hashtext(v_name));
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
