-- Storage quotas: measured usage, the quota state machine, and the mirror of
-- both in shared memory that the write-path hooks consult (docs/quotas.md).

-- One row per measured project. The OIDs and the quota are those last
-- published to shared memory: a difference with schemahost.project makes the
-- next refresh publish the project again.
CREATE TABLE schemahost.usage (
    project     text PRIMARY KEY,
    schema_oid  oid NOT NULL,
    role_oid    oid,
    quota_bytes bigint NOT NULL,
    used_bytes  bigint NOT NULL DEFAULT 0,
    state       text NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'warning', 'over')),
    measured_at timestamptz,
    state_since timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE schemahost.usage IS 'bytes on disk and quota state per project (see docs/quotas.md)';

-- When the last full refresh ran. A full refresh measures every project but
-- rewrites only the usage rows that changed; project_usage.measured_at takes
-- the later of a row's own time and this one.
CREATE TABLE schemahost.usage_refresh (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_full_at timestamptz
);
INSERT INTO schemahost.usage_refresh (last_full_at) VALUES (NULL);

-- ---------------------------------------------------------------------------
-- The C side.

CREATE FUNCTION schemahost.quota_enforcement_active() RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_quota_enforcement_active';
COMMENT ON FUNCTION schemahost.quota_enforcement_active() IS
    'true when the library is preloaded and the write-path quota checks are on';

CREATE FUNCTION schemahost._usage_measure(nsps oid[], full boolean)
    RETURNS TABLE (nsp oid, bytes bigint)
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_usage_measure';

CREATE FUNCTION schemahost._usage_take_dirty() RETURNS oid[]
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'schemahost_usage_take_dirty';

CREATE FUNCTION schemahost._quota_publish(nsps oid[], roles oid[], names text[],
                                          quotas bigint[], used bigint[], states text[],
                                          complete boolean, persist boolean)
    RETURNS integer
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_quota_publish';

CREATE FUNCTION schemahost._quota_forget(nsps oid[]) RETURNS void
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'schemahost_quota_forget';

CREATE FUNCTION schemahost.quota_shared_state()
    RETURNS TABLE (project text, schema_oid oid, role_oid oid, state text, used_bytes bigint,
                   quota_bytes bigint, written boolean)
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'schemahost_quota_shared_state';
COMMENT ON FUNCTION schemahost.quota_shared_state() IS
    'what the write path sees for this database (the shared-memory quota table)';

-- ---------------------------------------------------------------------------
-- The state machine.

-- ok -> warning at warn_percent, -> over at 100 %. Hysteresis: over is left
-- only below release_percent, warning only below warn_percent - 5.
-- (No SET clause: it would keep the function from being inlined into the
-- refresh query, which evaluates it for every project.)
CREATE FUNCTION schemahost.quota_next_state(old_state text, used_bytes bigint, quota_bytes bigint,
                                            warn_percent integer, release_percent integer)
    RETURNS text
    LANGUAGE sql IMMUTABLE STRICT
    AS $$
SELECT CASE
    WHEN used_bytes >= quota_bytes THEN 'over'
    WHEN old_state = 'over' AND used_bytes::numeric * 100 >= quota_bytes::numeric * release_percent
        THEN 'over'
    WHEN used_bytes::numeric * 100 >= quota_bytes::numeric * warn_percent THEN 'warning'
    WHEN old_state IN ('warning', 'over')
         AND used_bytes::numeric * 100 >= quota_bytes::numeric * greatest(warn_percent - 5, 0)
        THEN 'warning'
    ELSE 'ok'
END
$$;

-- Evaluates the projects of the given schemas (measuring them, or with their
-- last measured usage), records transitions (one event each), publishes the
-- result to shared memory (at once; undone if the transaction rolls back,
-- see docs/quotas.md) and cancels the open writes of projects that just
-- went over. complete: the targets are every project of this database.
CREATE FUNCTION schemahost._quota_apply(p_targets oid[], p_measure boolean, p_complete boolean)
    RETURNS TABLE (project text, used_bytes bigint)
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
          FROM schemahost._usage_measure(p_targets, p_complete) m
         WHERE p_measure
        UNION ALL
        SELECT p.schema_oid, coalesce(u.used_bytes, 0)
          FROM schemahost.project p LEFT JOIN schemahost.usage u ON u.project = p.name
         WHERE NOT p_measure AND p.schema_oid = ANY (p_targets)
    ), cur AS (
        SELECT p.name, p.schema_oid, p.role_oid, p.storage_quota_bytes AS quota, m.bytes AS used,
               coalesce(u.state, 'ok') AS old_state, u.measured_at AS old_measured_at
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

    IF p_complete THEN
        UPDATE schemahost.usage_refresh SET last_full_at = now();
        DELETE FROM schemahost.usage u
         WHERE NOT EXISTS (SELECT 1 FROM schemahost.project p
                            WHERE p.name = u.project AND p.schema_oid IS NOT NULL);
    END IF;

    RETURN QUERY SELECT t.name, t.used FROM unnest(v_names, v_used) AS t(name, used);
END
$$;

-- ---------------------------------------------------------------------------
-- The API.

-- Measures usage and moves quota states. Incremental by default: only the
-- projects written since the last refresh (shared memory tracks them), plus
-- those not ok; full => true measures every project of the registry and
-- corrects any drift. schemahostd calls it every 2 s, and with full => true
-- every 10 min.
CREATE FUNCTION schemahost_refresh_usage(full boolean DEFAULT false)
    RETURNS TABLE (project text, used_bytes bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_full boolean := coalesce(schemahost_refresh_usage.full, false);
    v_dirty oid[];
    v_targets oid[];
BEGIN
    -- One refresh at a time per database: two would write the same
    -- transition twice.
    PERFORM pg_catalog.pg_advisory_xact_lock(5346281, 30);
    -- Always taken (it clears the written flags, also before a full
    -- refresh). NULL: no preload, or shared memory not filled since the
    -- server started: only a full refresh is complete then.
    v_dirty := schemahost._usage_take_dirty();
    v_full := v_full OR v_dirty IS NULL;
    IF v_full THEN
        v_targets := ARRAY(SELECT p.schema_oid FROM schemahost.project p
                            WHERE p.schema_oid IS NOT NULL);
    ELSE
        -- Written since the last refresh, or not ok. A project created or
        -- changed without schemahost.quota_sync() is picked up by the next
        -- full refresh.
        v_targets := v_dirty;
    END IF;
    RETURN QUERY SELECT a.project, a.used_bytes FROM schemahost._quota_apply(v_targets, true, v_full) a;
END
$$;
COMMENT ON FUNCTION schemahost_refresh_usage(boolean) IS
    'measures project usage (incremental, or full => true) and moves quota states; returns the projects measured';

-- Called by the provisioning functions (schemahost.project_changed) after a
-- project's quota, state or existence changed: re-evaluates its quota state
-- with the last measured usage and updates shared memory at once. Returns the
-- state, or NULL when the project no longer exists.
CREATE FUNCTION schemahost.quota_sync(project text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    v_nsp oid;
    v_old oid;
    v_state text;
BEGIN
    SELECT p.schema_oid INTO v_nsp FROM schemahost.project p WHERE p.name = quota_sync.project;
    SELECT u.schema_oid INTO v_old FROM schemahost.usage u WHERE u.project = quota_sync.project;
    IF v_old IS NOT NULL AND v_old IS DISTINCT FROM v_nsp THEN
        PERFORM schemahost._quota_forget(ARRAY[v_old]);
    END IF;
    IF v_nsp IS NULL THEN
        DELETE FROM schemahost.usage u WHERE u.project = quota_sync.project;
        RETURN NULL;
    END IF;
    PERFORM schemahost._quota_apply(ARRAY[v_nsp], false, false);
    SELECT u.state INTO v_state FROM schemahost.usage u WHERE u.project = quota_sync.project;
    RETURN v_state;
END
$$;
COMMENT ON FUNCTION schemahost.quota_sync(text) IS
    're-evaluates one project''s quota state after a change and updates shared memory';

CREATE VIEW project_usage AS
    SELECT p.name,
           coalesce(u.used_bytes, 0) AS used_bytes,
           p.storage_quota_bytes AS quota_bytes,
           round(100.0 * coalesce(u.used_bytes, 0) / p.storage_quota_bytes, 1) AS percent,
           coalesce(u.state, 'ok') AS state,
           CASE WHEN u.measured_at IS NOT NULL THEN greatest(u.measured_at, r.last_full_at) END
               AS measured_at
      FROM schemahost.project p
      LEFT JOIN schemahost.usage u ON u.project = p.name
      CROSS JOIN schemahost.usage_refresh r
     ORDER BY p.name;
COMMENT ON VIEW project_usage IS 'one row per project: storage used, quota and quota state';

-- ---------------------------------------------------------------------------
-- Privileges.

REVOKE ALL ON TABLE schemahost.usage, schemahost.usage_refresh FROM PUBLIC;
GRANT SELECT ON TABLE schemahost.usage, schemahost.usage_refresh TO schemahost_admin, schemahost_daemon;
REVOKE ALL ON project_usage FROM PUBLIC;
GRANT SELECT ON project_usage TO schemahost_admin, schemahost_daemon;

REVOKE EXECUTE ON FUNCTION schemahost._usage_measure(oid[], boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost._usage_take_dirty() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost._quota_publish(oid[], oid[], text[], bigint[], bigint[], text[], boolean, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost._quota_forget(oid[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost._quota_apply(oid[], boolean, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost.quota_shared_state() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost.quota_sync(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost_refresh_usage(boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schemahost_refresh_usage(boolean) TO schemahost_daemon, schemahost_admin;
GRANT EXECUTE ON FUNCTION schemahost.quota_sync(text) TO schemahost_admin, schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost.quota_shared_state() TO schemahost_admin, schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost.quota_enforcement_active() TO schemahost_admin, schemahost_daemon;
