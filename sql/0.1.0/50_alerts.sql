-- Alerts: durable, deduplicated delivery of the events in schemahost.event
-- to project owners (email) and to the operator's webhook.
--
-- Every event row gets, in the same transaction, one delivery row per channel
-- that applies to it (trigger below). schemahostd claims due deliveries
-- through schemahost_claim_deliveries(), sends them, and records the outcome
-- with schemahost_delivery_done() / schemahost_delivery_failed(). Delivery is
-- at least once: a daemon that dies after sending but before recording sends
-- again, with the same event id (webhook) and Message-ID (email), so that
-- receivers can deduplicate. See docs/alerts.md.

-- Per-project preferences. The owner email lives in schemahost.project; a
-- project without a row here has the defaults (webhook on, not muted).
CREATE TABLE schemahost.alert_preference (
    project text PRIMARY KEY REFERENCES schemahost.project (name) ON DELETE CASCADE,
    webhook boolean NOT NULL DEFAULT true,
    muted   boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE schemahost.alert_preference IS
    'per-project alert preferences: webhook opt-out and operator mute';

-- One row per event and channel. The recipient is fixed when the event is
-- written, so that an event still reaches its owner after the project row is
-- gone (purge) or its email has changed.
CREATE TABLE schemahost.delivery (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event           bigint NOT NULL REFERENCES schemahost.event (id) ON DELETE CASCADE,
    channel         text NOT NULL CHECK (channel IN ('email', 'webhook')),
    recipient       text,
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'delivered', 'failed', 'cancelled')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- The claim of the daemon session currently sending it (NULL when none).
    -- A claim by a session that no longer exists is void, so that a daemon
    -- killed mid-send is followed at once by a resend.
    claimed_pid     integer,
    claimed_backend_start timestamptz,
    claimed_at      timestamptz,
    last_attempt_at timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    UNIQUE (event, channel),
    CHECK ((channel = 'email') = (recipient IS NOT NULL))
);
CREATE INDEX delivery_due_idx ON schemahost.delivery (channel, next_attempt_at)
    WHERE status = 'pending';
COMMENT ON TABLE schemahost.delivery IS
    'delivery state of each event on each channel (email, webhook)';

SELECT pg_catalog.pg_extension_config_dump('schemahost.alert_preference', '');
SELECT pg_catalog.pg_extension_config_dump('schemahost.delivery', '');

-- The backoff after a failed attempt: base * 2^(attempts-1), at most cap.
CREATE FUNCTION schemahost.alert_backoff(attempts integer, base interval, cap interval)
    RETURNS interval
    LANGUAGE sql IMMUTABLE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT CASE
            WHEN attempts <= 1 THEN LEAST(base, cap)
            -- 2^30 * any sensible base is past every cap; avoids overflow.
            WHEN attempts > 31 THEN cap
            ELSE LEAST(base * power(2, attempts - 1)::double precision, cap)
        END
    $$;

-- The JSON sent with NOTIFY schemahost_events for each new event. NOTIFY
-- payloads are limited to 8000 bytes: a payload too large is left out and
-- "payload_truncated" says so (the full event is in the outbox).
CREATE FUNCTION schemahost.event_notification(e schemahost.event)
    RETURNS text
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    doc jsonb := jsonb_build_object(
        'id', e.id, 'event_id', e.event_id, 'project', e.project, 'kind', e.kind,
        'payload', e.payload, 'occurred_at', e.occurred_at);
BEGIN
    IF octet_length(doc::text) > 7900 THEN
        doc := doc - 'payload' || jsonb_build_object('payload_truncated', true);
    END IF;
    RETURN doc::text;
END
$$;

CREATE FUNCTION schemahost.event_created()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    p_email   text;
    p_webhook boolean := true;
    p_muted   boolean := false;
BEGIN
    SELECT p.owner_email, COALESCE(a.webhook, true), COALESCE(a.muted, false)
      INTO p_email, p_webhook, p_muted
      FROM schemahost.project p
      LEFT JOIN schemahost.alert_preference a ON a.project = p.name
     WHERE p.name = NEW.project;
    IF NOT FOUND THEN
        -- The project row is already gone (purge deletes it before writing
        -- its event): the event may carry the owner's address, or else the
        -- project's last email alert (e.g. the one about the drop) had it.
        p_email := NULLIF(NEW.payload ->> 'owner_email', '');
        IF p_email IS NULL THEN
            SELECT d.recipient INTO p_email
              FROM schemahost.event e
              JOIN schemahost.delivery d ON d.event = e.id AND d.channel = 'email'
             WHERE e.project = NEW.project AND e.id < NEW.id
             ORDER BY e.id DESC
             LIMIT 1;
        END IF;
        p_webhook := true;
        p_muted := false;
    END IF;

    IF NOT p_muted THEN
        IF p_email IS NOT NULL AND p_email <> '' THEN
            INSERT INTO schemahost.delivery (event, channel, recipient)
            VALUES (NEW.id, 'email', p_email);
        END IF;
        IF p_webhook THEN
            INSERT INTO schemahost.delivery (event, channel) VALUES (NEW.id, 'webhook');
        END IF;
    END IF;

    PERFORM pg_catalog.pg_notify('schemahost_events', schemahost.event_notification(NEW));
    RETURN NULL;
END
$$;

CREATE TRIGGER event_created AFTER INSERT ON schemahost.event
    FOR EACH ROW EXECUTE FUNCTION schemahost.event_created();

-- ---------------------------------------------------------------------------
-- Operator API

CREATE FUNCTION set_project_alerts(name text, owner_email text DEFAULT NULL,
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

    -- Muting also stops what is still waiting to be sent.
    IF set_project_alerts.muted THEN
        UPDATE schemahost.delivery d
           SET status = 'cancelled', last_error = 'project muted by the operator',
               claimed_pid = NULL, claimed_backend_start = NULL, claimed_at = NULL
          FROM schemahost.event e
         WHERE e.id = d.event AND e.project = p_name AND d.status = 'pending';
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
COMMENT ON FUNCTION set_project_alerts(text, text, boolean, boolean) IS
    'set a project''s owner email ('''' removes it), webhook opt-in/out and mute; NULL keeps a setting';
REVOKE EXECUTE ON FUNCTION set_project_alerts(text, text, boolean, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION set_project_alerts(text, text, boolean, boolean) TO schemahost_admin;

-- Deliveries that gave up, with their last error, for operators.
CREATE VIEW alert_failures AS
    SELECT d.id AS delivery, e.event_id, e.project, e.kind, d.channel, d.attempts,
           d.last_error, e.occurred_at, d.last_attempt_at
      FROM schemahost.delivery d
      JOIN schemahost.event e ON e.id = d.event
     WHERE d.status = 'failed';
COMMENT ON VIEW alert_failures IS 'alert deliveries that failed for good, with their last error';
REVOKE ALL ON alert_failures FROM PUBLIC;
GRANT SELECT ON alert_failures TO schemahost_admin;

-- Sends a failed (or cancelled) delivery again, from attempt 0.
CREATE FUNCTION retry_alert(delivery bigint)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    UPDATE schemahost.delivery d
       SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL
     WHERE d.id = retry_alert.delivery AND d.status IN ('failed', 'cancelled');
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION retry_alert(bigint) IS
    'queue a failed or cancelled alert delivery again; false if it is not failed or cancelled';
REVOKE EXECUTE ON FUNCTION retry_alert(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION retry_alert(bigint) TO schemahost_admin;

-- ---------------------------------------------------------------------------
-- Daemon API (schemahost_daemon only; the daemon never reads the tables).

-- max_attempts as the daemon passes it (--max-attempts): at least 1.
CREATE FUNCTION schemahost.check_max_attempts(max_attempts integer)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF max_attempts IS NULL OR max_attempts < 1 THEN
        RAISE EXCEPTION 'max_attempts must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', COALESCE(max_attempts::text, 'NULL')),
                  HINT = 'Pass the number of attempts before a delivery is marked failed, e.g. 10.';
    END IF;
END
$$;
REVOKE EXECUTE ON FUNCTION schemahost.check_max_attempts(integer) FROM PUBLIC;

-- Claims up to max_deliveries due deliveries of the given channels for this
-- session and returns everything needed to send them. Each claim counts as an
-- attempt. Claimable: pending, due, not in exclude (the deliveries the daemon
-- is still sending), and not claimed by another live session.
-- Projects take turns (each project's oldest delivery first), so that one
-- project's backlog never starves the others. A delivery whose claims have
-- already used up max_attempts without an outcome being recorded (the daemon
-- died each time) is marked failed instead of being sent again.
CREATE FUNCTION schemahost_claim_deliveries(max_deliveries integer, channels text[],
                                            max_attempts integer DEFAULT 10,
                                            exclude bigint[] DEFAULT '{}')
    RETURNS TABLE (delivery bigint, event_id uuid, kind text, project text, payload jsonb,
                   occurred_at timestamptz, channel text, recipient text, attempt integer,
                   quota_bytes bigint, state text)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    me_start timestamptz;
BEGIN
    IF max_deliveries IS NULL OR max_deliveries < 1 THEN
        RAISE EXCEPTION 'max_deliveries must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', COALESCE(max_deliveries::text, 'NULL'));
    END IF;
    PERFORM schemahost.check_max_attempts(max_attempts);
    -- pg_stat_get_activity(pid) looks at one backend, not all of them.
    SELECT a.backend_start INTO me_start
      FROM pg_catalog.pg_stat_get_activity(pg_catalog.pg_backend_pid()) a;

    RETURN QUERY
    WITH due AS (
        SELECT d.id, e.project AS proj,
               row_number() OVER (PARTITION BY e.project ORDER BY d.id) AS turn
          FROM schemahost.delivery d
          JOIN schemahost.event e ON e.id = d.event
         WHERE d.status = 'pending'
           AND d.channel = ANY (channels)
           AND d.next_attempt_at <= now()
           AND NOT (d.id = ANY (COALESCE(exclude, '{}')))
           AND (d.claimed_pid IS NULL
                OR (d.claimed_pid = pg_catalog.pg_backend_pid()
                    AND d.claimed_backend_start IS NOT DISTINCT FROM me_start)
                OR NOT EXISTS (SELECT 1 FROM pg_catalog.pg_stat_get_activity(d.claimed_pid) a
                                WHERE a.pid = d.claimed_pid
                                  AND a.backend_start = d.claimed_backend_start))
    ),
    picked AS (
        SELECT due.id FROM due ORDER BY due.turn, due.id LIMIT max_deliveries
    ),
    locked AS (
        SELECT d.id FROM schemahost.delivery d JOIN picked USING (id)
           FOR UPDATE OF d SKIP LOCKED
    ),
    claimed AS (
        UPDATE schemahost.delivery d
           SET attempts = d.attempts + 1,
               status = CASE WHEN d.attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
               last_error = CASE WHEN d.attempts >= max_attempts
                                 THEN 'schemahostd stopped while sending, ' || d.attempts
                                      || ' times; last error: ' || COALESCE(d.last_error, 'none')
                                 ELSE d.last_error END,
               claimed_pid = CASE WHEN d.attempts >= max_attempts THEN NULL
                                  ELSE pg_catalog.pg_backend_pid() END,
               claimed_backend_start = CASE WHEN d.attempts >= max_attempts THEN NULL
                                            ELSE me_start END,
               claimed_at = now(),
               last_attempt_at = now()
          FROM locked
         WHERE d.id = locked.id
        RETURNING d.*
    )
    SELECT c.id, e.event_id, e.kind, e.project, e.payload, e.occurred_at, c.channel,
           c.recipient, c.attempts, p.storage_quota_bytes, p.state
      FROM claimed c
      JOIN schemahost.event e ON e.id = c.event
      LEFT JOIN schemahost.project p ON p.name = e.project
     WHERE c.status = 'pending'
     ORDER BY c.id;
END
$$;
COMMENT ON FUNCTION schemahost_claim_deliveries(integer, text[], integer, bigint[]) IS
    'schemahostd: claim due alert deliveries of the given channels for this session';

CREATE FUNCTION schemahost_delivery_done(delivery bigint)
    RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
BEGIN
    UPDATE schemahost.delivery d
       SET status = 'delivered', delivered_at = now(), last_error = NULL,
           claimed_pid = NULL, claimed_backend_start = NULL, claimed_at = NULL
     WHERE d.id = schemahost_delivery_done.delivery AND d.status = 'pending';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION schemahost_delivery_done(bigint) IS
    'schemahostd: record that a claimed delivery was accepted by its peer';

-- Records a failed attempt: retried after the backoff, or failed for good
-- once max_attempts attempts were made. Returns the new status.
CREATE FUNCTION schemahost_delivery_failed(delivery bigint, error text, max_attempts integer,
                                           retry_base interval DEFAULT '30 seconds',
                                           retry_cap interval DEFAULT '1 hour')
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    result text;
BEGIN
    PERFORM schemahost.check_max_attempts(max_attempts);
    IF retry_base IS NULL OR retry_base <= interval '0' OR retry_cap IS NULL
       OR retry_cap < retry_base THEN
        RAISE EXCEPTION 'invalid retry backoff'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('retry_base is %s and retry_cap is %s.', retry_base, retry_cap),
                  HINT = 'retry_base must be greater than 0 and retry_cap at least retry_base.';
    END IF;
    UPDATE schemahost.delivery d
       SET status = CASE WHEN d.attempts >= max_attempts THEN 'failed' ELSE 'pending' END,
           next_attempt_at = now() + schemahost.alert_backoff(d.attempts, retry_base, retry_cap),
           -- Errors come from remote peers: keep them short and printable.
           last_error = left(regexp_replace(COALESCE(schemahost_delivery_failed.error, 'unknown error'),
                                            '[[:cntrl:]]+', ' ', 'g'), 500),
           claimed_pid = NULL, claimed_backend_start = NULL, claimed_at = NULL
     WHERE d.id = schemahost_delivery_failed.delivery AND d.status = 'pending'
    RETURNING d.status INTO result;
    RETURN result;
END
$$;
COMMENT ON FUNCTION schemahost_delivery_failed(bigint, text, integer, interval, interval) IS
    'schemahostd: record a failed attempt; retried with exponential backoff until max_attempts';

-- Event retention, called by schemahostd once per full pass
-- (--event-retention, default 30 days). Deletes, oldest first and at most
-- max_events per call, the events older than retention whose deliveries are
-- all finished (delivered, failed or cancelled), and their deliveries with
-- them. Kept whatever their age: events with a delivery still pending, and
-- the last 'dropped' event of a project that is still dropped
-- (restore_project() reads the state it was dropped from there). Returns how
-- many events were deleted.
CREATE FUNCTION schemahost_delete_old_events(retention interval, max_events integer DEFAULT 10000)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, schemahost, pg_temp
    AS $$
DECLARE
    deleted bigint;
BEGIN
    IF retention IS NULL OR retention < interval '1 day' THEN
        RAISE EXCEPTION 'event retention must be at least 1 day'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('%s was given.', COALESCE(retention::text, 'NULL')),
                  HINT = 'Pass an interval such as ''30 days''.';
    END IF;
    IF max_events IS NULL OR max_events < 1 THEN
        RAISE EXCEPTION 'max_events must be at least 1'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Got %s.', COALESCE(max_events::text, 'NULL'));
    END IF;
    WITH old AS (
        SELECT e.id
          FROM schemahost.event e
         WHERE e.occurred_at < now() - retention
           AND NOT EXISTS (SELECT 1 FROM schemahost.delivery d
                            WHERE d.event = e.id AND d.status = 'pending')
           AND NOT (e.kind = 'dropped'
                    AND EXISTS (SELECT 1 FROM schemahost.project p
                                 WHERE p.name = e.project AND p.state = 'dropped')
                    AND NOT EXISTS (SELECT 1 FROM schemahost.event later
                                     WHERE later.project = e.project AND later.kind = 'dropped'
                                       AND later.id > e.id))
         ORDER BY e.id
         LIMIT max_events
    )
    DELETE FROM schemahost.event e USING old WHERE e.id = old.id;
    GET DIAGNOSTICS deleted = ROW_COUNT;
    RETURN deleted;
END
$$;
COMMENT ON FUNCTION schemahost_delete_old_events(interval, integer) IS
    'schemahostd: delete events older than retention whose deliveries are all finished';

REVOKE EXECUTE ON FUNCTION schemahost_delete_old_events(interval, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schemahost_delete_old_events(interval, integer) TO schemahost_daemon, schemahost_admin;
REVOKE EXECUTE ON FUNCTION schemahost_claim_deliveries(integer, text[], integer, bigint[]) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost_delivery_done(bigint) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION schemahost_delivery_failed(bigint, text, integer, interval, interval)
    FROM PUBLIC;
GRANT EXECUTE ON FUNCTION schemahost_claim_deliveries(integer, text[], integer, bigint[]) TO schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost_delivery_done(bigint) TO schemahost_daemon;
GRANT EXECUTE ON FUNCTION schemahost_delivery_failed(bigint, text, integer, interval, interval)
    TO schemahost_daemon;
