-- The daemon's API: what schemahostd calls besides schemahost_refresh_usage(),
-- schemahost_purge_expired() and the alert functions. See docs/daemon.md.
--
--   schemahost_daemon_hello(version)      version handshake, checked here too
--   schemahost_daemon_try_lock()          exactly one active daemon per database
--   schemahost_enforce_runtime_limits()   cancels / terminates project sessions past their limits,
--                                         and those of suspended or dropped projects
--   schemahost_connection_counts()        sessions per project
--
-- And for operators: set_project_limits() and the project_limits view.

-- ---------------------------------------------------------------------------
-- Runtime limits

-- A GUC default as an interval. The GUCs are defined by the library; when it
-- is not loaded (not preloaded, no C function called yet) the built-in
-- default applies.
CREATE FUNCTION schemahost.runtime_limit_default(p_guc text, p_fallback interval) RETURNS interval
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v text := pg_catalog.current_setting(p_guc, true);
BEGIN
    IF v IS NULL OR v = '' THEN
        RETURN p_fallback;
    END IF;
    -- The setting is shown with a unit ('5min', '300ms', '0'): interval input.
    RETURN v::interval;
END
$$;

-- The limits in force for every project: its own, else the defaults.
-- 0 means no limit.
CREATE VIEW project_limits AS
    SELECT p.name,
           coalesce(p.statement_timeout,
                    schemahost.runtime_limit_default('schemahost.default_statement_timeout', interval '5 min'))
               AS statement_timeout,
           p.statement_timeout IS NULL AS statement_timeout_is_default,
           coalesce(p.idle_in_transaction_timeout,
                    schemahost.runtime_limit_default('schemahost.default_idle_in_transaction_timeout', interval '1 min'))
               AS idle_in_transaction_timeout,
           p.idle_in_transaction_timeout IS NULL AS idle_in_transaction_timeout_is_default
      FROM schemahost.project p
     ORDER BY p.name;
COMMENT ON VIEW project_limits IS
    'runtime limits of each project (0 = none), enforced by schemahostd';

-- Sets a project's runtime limits. NULL leaves a limit as it is; 0 removes
-- it; use_defaults => true first returns both to the GUC defaults.
CREATE FUNCTION set_project_limits(name text, statement_timeout interval DEFAULT NULL,
                                   idle_in_transaction_timeout interval DEFAULT NULL,
                                   use_defaults boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v schemahost.project;
    v_arg text;
    v_val interval;
BEGIN
    IF set_project_limits.statement_timeout IS NULL AND set_project_limits.idle_in_transaction_timeout IS NULL
       AND NOT coalesce(set_project_limits.use_defaults, false) THEN
        RAISE EXCEPTION 'no limit given'
            USING ERRCODE = 'null_value_not_allowed',
                  HINT = 'Pass statement_timeout => ''30 s'' and/or idle_in_transaction_timeout => ''1 min'', or use_defaults => true.';
    END IF;
    FOR v_arg, v_val IN VALUES ('statement_timeout', set_project_limits.statement_timeout),
                               ('idle_in_transaction_timeout', set_project_limits.idle_in_transaction_timeout) LOOP
        IF v_val < interval '0' THEN
            RAISE EXCEPTION '% must not be negative', v_arg
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s was given.', v_val),
                      HINT = 'Pass an interval such as ''30 s'', or 0 for no limit.';
        END IF;
        IF v_val > interval '0' AND v_val < interval '1 s' THEN
            RAISE EXCEPTION '% must be at least 1 second', v_arg
                USING ERRCODE = 'invalid_parameter_value',
                      DETAIL = format('%s was given; schemahostd checks the limits every pass, by default every 2 s.', v_val),
                      HINT = 'Pass an interval such as ''30 s'', or 0 for no limit.';
        END IF;
    END LOOP;
    v := schemahost.lock_live_project(set_project_limits.name);
    UPDATE schemahost.project p
       SET statement_timeout = coalesce(set_project_limits.statement_timeout,
                                        CASE WHEN set_project_limits.use_defaults THEN NULL ELSE p.statement_timeout END),
           idle_in_transaction_timeout = coalesce(set_project_limits.idle_in_transaction_timeout,
                                        CASE WHEN set_project_limits.use_defaults THEN NULL ELSE p.idle_in_transaction_timeout END)
     WHERE p.name = v.name;
    PERFORM schemahost.project_changed(v.name);
END
$$;
COMMENT ON FUNCTION set_project_limits(text, interval, interval, boolean) IS
    'sets a project''s longest statement and longest idle-in-transaction (NULL: unchanged, 0: none)';

-- Called by schemahostd every pass. Cancels the statement of each project
-- session running longer than its project's statement limit and terminates
-- each project session idle in a transaction longer than its limit. Works
-- whatever statement_timeout the tenant set for itself: the clock is
-- pg_stat_activity's, and the signals come from here.
--
-- It also closes the login window of suspend_project() and
-- drop_project_schema(): they turn the login off and end the sessions they
-- see, but a session that authenticated just before NOLOGIN committed is not
-- visible to them yet. Every session of a suspended or dropped project found
-- here is therefore terminated (reason project_suspended / project_dropped).
--
-- Each enforcement writes one event (kind runtime_limit) and one row of the
-- result. A session still past its limit on the next pass (the signal has not
-- been handled yet) is signalled again but neither reported nor recorded
-- twice: the event is keyed on the pid, the reason and the start of the
-- statement, of the idle period or (suspended/dropped) of the session.
CREATE FUNCTION schemahost_enforce_runtime_limits()
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
    PERFORM pg_catalog.pg_advisory_xact_lock(5346281, 40);
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
                   CASE WHEN s.running THEN s.query_start ELSE s.state_change END,
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
COMMENT ON FUNCTION schemahost_enforce_runtime_limits() IS
    'cancels statements and terminates idle transactions of project sessions past their limits, and terminates the sessions of suspended and dropped projects (for schemahostd)';

-- ---------------------------------------------------------------------------
-- Connections

-- Sessions per project (cluster-wide, as the role's CONNECTION LIMIT counts
-- them); only projects with at least one session.
CREATE FUNCTION schemahost_connection_counts()
    RETURNS TABLE (project text, connections integer, max_connections integer)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
    SELECT p.name, count(*)::integer, p.max_connections
      FROM pg_catalog.pg_stat_activity a
      JOIN schemahost.project p ON p.role_oid = a.usesysid
     WHERE a.backend_type = 'client backend'
     GROUP BY p.name, p.max_connections
     ORDER BY p.name
$$;
COMMENT ON FUNCTION schemahost_connection_counts() IS
    'sessions per project that has any, with its connection quota';

-- ---------------------------------------------------------------------------
-- The daemon itself

-- Version handshake: schemahostd checks the extension's version, and the
-- extension checks the daemon's here. major.minor must match. Returns the
-- installed version.
CREATE FUNCTION schemahost_daemon_hello(daemon_version text) RETURNS text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    v_ext text;
    v_ours text[];
    v_theirs text[];
BEGIN
    SELECT e.extversion INTO v_ext FROM pg_catalog.pg_extension e WHERE e.extname = 'schemahost';
    v_ours := pg_catalog.regexp_match(v_ext, '^(\d+)\.(\d+)');
    v_theirs := pg_catalog.regexp_match(daemon_version, '^(\d+)\.(\d+)');
    IF v_theirs IS NULL THEN
        RAISE EXCEPTION 'invalid schemahostd version "%"', daemon_version
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Pass the daemon''s version, e.g. ''0.1.0''.';
    END IF;
    IF v_ours IS DISTINCT FROM v_theirs THEN
        RAISE EXCEPTION 'schemahostd % is not compatible with schemahost %', daemon_version, v_ext
            USING ERRCODE = 'feature_not_supported',
                  DETAIL = 'The major and minor versions of the daemon and of the installed extension must match.',
                  HINT = format('Use schemahostd %s.%s.x, or install schemahost %s.%s and run ALTER EXTENSION schemahost UPDATE.',
                                v_ours[1], v_ours[2], v_theirs[1], v_theirs[2]);
    END IF;
    RETURN v_ext;
END
$$;
COMMENT ON FUNCTION schemahost_daemon_hello(text) IS
    'version handshake of schemahostd: an error unless major.minor match; returns the installed version';

-- Exactly one active daemon per database: the active one holds this
-- session-level advisory lock for as long as its connection lives; the others
-- call this every interval and stay on standby while it returns false. A
-- daemon whose connection ends (crash, kill -9, network loss) releases it.
CREATE FUNCTION schemahost_daemon_try_lock() RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$ SELECT pg_catalog.pg_try_advisory_lock(5346281, 4000) $$;
COMMENT ON FUNCTION schemahost_daemon_try_lock() IS
    'takes the active-daemon lock of this database for the calling session; false when another session holds it';

-- The session of the active daemon, if any (for operators and standbys).
CREATE FUNCTION schemahost_active_daemon()
    RETURNS TABLE (pid integer, application_name text, client_addr inet, backend_start timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
    SELECT a.pid, a.application_name, a.client_addr, a.backend_start
      FROM pg_catalog.pg_locks l
      JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'advisory' AND l.granted
       AND l.database = (SELECT d.oid FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database())
       AND l.classid = 5346281 AND l.objid = 4000 AND l.objsubid = 2
$$;
COMMENT ON FUNCTION schemahost_active_daemon() IS 'the session of the active schemahostd of this database, if any';

-- ---------------------------------------------------------------------------
-- Privileges

REVOKE ALL ON FUNCTION schemahost.runtime_limit_default(text, interval) FROM PUBLIC;
REVOKE ALL ON project_limits FROM PUBLIC;
REVOKE ALL ON FUNCTION set_project_limits(text, interval, interval, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_enforce_runtime_limits() FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_connection_counts() FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_daemon_hello(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_daemon_try_lock() FROM PUBLIC;
REVOKE ALL ON FUNCTION schemahost_active_daemon() FROM PUBLIC;

GRANT SELECT ON project_limits TO schemahost_admin, schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost.runtime_limit_default(text, interval) TO schemahost_admin, schemahost_daemon;
GRANT EXECUTE ON FUNCTION set_project_limits(text, interval, interval, boolean) TO schemahost_admin;
GRANT EXECUTE ON FUNCTION schemahost_enforce_runtime_limits() TO schemahost_daemon, schemahost_admin;
GRANT EXECUTE ON FUNCTION schemahost_connection_counts() TO schemahost_daemon, schemahost_admin;
GRANT EXECUTE ON FUNCTION schemahost_daemon_hello(text) TO schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost_daemon_try_lock() TO schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost_active_daemon() TO schemahost_daemon, schemahost_admin;
