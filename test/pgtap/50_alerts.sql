-- Alert outbox and delivery state: the trigger creates one delivery per
-- applicable channel, preferences and mute are honoured, the daemon API
-- claims, completes and fails deliveries with backoff, and the grants are
-- the documented ones.
BEGIN;
CREATE EXTENSION schemahost;
SET LOCAL client_min_messages = warning;
SELECT plan(93);

-- Projects are made directly in the registry: this file tests the alert
-- machinery, not provisioning.
INSERT INTO schemahost.project (name, owner_email, storage_quota_bytes, max_connections)
VALUES ('alpha', 'alice@example.com', 1000000, 5),
       ('beta', NULL, 2000000, 5),
       ('gamma', 'gus@example.com', 3000000, 5);

CREATE FUNCTION pg_temp.emit(p text, k text, extra jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE sql AS $$
    INSERT INTO schemahost.event (project, kind, payload)
    VALUES (p, k, '{"used_bytes": 850000, "quota_bytes": 1000000, "percent": 85}'::jsonb || extra)
    RETURNING id
$$;
CREATE FUNCTION pg_temp.hint_of(q text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    h text;
BEGIN
    EXECUTE q;
    RETURN NULL;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS h = PG_EXCEPTION_HINT;
    RETURN h;
END
$$;
CREATE FUNCTION pg_temp.channels(ev bigint) RETURNS text[]
LANGUAGE sql AS $$
    SELECT COALESCE(array_agg(channel ORDER BY channel), '{}') FROM schemahost.delivery WHERE event = ev
$$;

-- Objects
SELECT has_table('schemahost', 'delivery', 'delivery table exists');
SELECT has_table('schemahost', 'alert_preference', 'preference table exists');
SELECT has_view('public', 'alert_failures', 'alert_failures view exists');
SELECT has_trigger('schemahost', 'event', 'event_created', 'event trigger exists');
SELECT function_returns('public', 'set_project_alerts', ARRAY['text', 'text', 'boolean', 'boolean'],
                        'record', 'set_project_alerts(name, owner_email, webhook, muted)');

-- Trigger: channels per project
SELECT is(pg_temp.channels(pg_temp.emit('alpha', 'quota_warning')), ARRAY['email', 'webhook'],
          'owner with email: email and webhook deliveries');
SELECT is((SELECT recipient FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'alpha' AND channel = 'email'),
          'alice@example.com', 'email delivery is addressed to the owner');
SELECT is((SELECT status || '/' || attempts FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'alpha' AND channel = 'email'),
          'pending/0', 'a new delivery is pending with no attempt');
SELECT is(pg_temp.channels(pg_temp.emit('beta', 'quota_over')), ARRAY['webhook'],
          'owner without email: webhook only');
SELECT is(pg_temp.channels(pg_temp.emit('nosuch', 'purged', '{"owner_email": "gone@example.com"}')),
          ARRAY['email', 'webhook'], 'project row already gone: the address in the payload is used');
SELECT is(pg_temp.channels(pg_temp.emit('nosuch', 'purged')), ARRAY['email', 'webhook'],
          'project row gone and no address in the payload: the last alert''s address is used');
SELECT is((SELECT recipient FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'nosuch' AND channel = 'email' ORDER BY d.id DESC LIMIT 1),
          'gone@example.com', 'that is the address of the project''s earlier alert');
SELECT is(pg_temp.channels(pg_temp.emit('never', 'purged')), ARRAY['webhook'],
          'no project row and no earlier address: webhook only');

-- NOTIFY payload
SELECT is((schemahost.event_notification(e)::jsonb) - 'occurred_at' - 'id' - 'event_id',
          '{"project": "alpha", "kind": "quota_warning",
            "payload": {"used_bytes": 850000, "quota_bytes": 1000000, "percent": 85}}'::jsonb,
          'notification carries project, kind and payload')
  FROM schemahost.event e WHERE project = 'alpha' AND kind = 'quota_warning';
SELECT is((schemahost.event_notification(e)::jsonb ->> 'event_id')::uuid, e.event_id,
          'notification carries the event id')
  FROM schemahost.event e WHERE project = 'alpha' AND kind = 'quota_warning';
SELECT ok(octet_length(schemahost.event_notification(ROW(1, gen_random_uuid(), 'alpha', 'x',
              jsonb_build_object('big', repeat('x', 9000)), now())::schemahost.event)) < 8000
          AND schemahost.event_notification(ROW(1, gen_random_uuid(), 'alpha', 'x',
              jsonb_build_object('big', repeat('x', 9000)), now())::schemahost.event)::jsonb
              ->> 'payload_truncated' = 'true',
          'an oversized payload is left out of the notification, which says so');

-- Preferences
SELECT is((SELECT ROW(project, owner_email_out, webhook_out, muted_out)::text
             FROM set_project_alerts('gamma', webhook => false)),
          '(gamma,gus@example.com,f,f)', 'webhook opt-out keeps the other settings');
SELECT is(pg_temp.channels(pg_temp.emit('gamma', 'quota_warning')), ARRAY['email'],
          'opted out of the webhook: email only');
SELECT is((SELECT ROW(project, owner_email_out, webhook_out, muted_out)::text
             FROM set_project_alerts('gamma', owner_email => 'new@example.org', webhook => true)),
          '(gamma,new@example.org,t,f)', 'owner email and webhook can be changed together');
SELECT is((SELECT owner_email FROM schemahost.project WHERE name = 'gamma'), 'new@example.org',
          'the owner email is stored in the registry');
SELECT is((SELECT owner_email_out FROM set_project_alerts('gamma', owner_email => '')), NULL,
          'an empty owner email removes it');
SELECT is(pg_temp.channels(pg_temp.emit('gamma', 'quota_ok')), ARRAY['webhook'],
          'no email once the address is removed');
SELECT throws_ok($$SELECT set_project_alerts('gamma', owner_email => 'x@y.z' || chr(10) || 'Bcc: evil@z')$$,
                 '22023', 'invalid owner email address', 'a header injection is refused');
SELECT throws_ok($$SELECT set_project_alerts('gamma', owner_email => 'Gus <gus@example.com>')$$,
                 '22023', 'invalid owner email address', 'a display name is refused');
SELECT is(pg_temp.hint_of($$SELECT set_project_alerts('gamma', owner_email => 'Gus <gus@example.com>')$$),
          'Give a single address without a display name.',
          'the hint does not offer NULL (set_project_alerts keeps the address on NULL)');
-- Opting out of webhooks cancels the webhook deliveries still waiting, and
-- only those.
SELECT is(pg_temp.channels(pg_temp.emit('beta', 'quota_warning')), ARRAY['webhook'],
          'beta (no email) gets a webhook delivery');
SELECT is((SELECT webhook_out FROM set_project_alerts('beta', webhook => false)), false, 'beta opts out');
SELECT is((SELECT array_agg(DISTINCT d.status || ': ' || d.last_error) FROM schemahost.delivery d
             JOIN schemahost.event e ON e.id = d.event WHERE e.project = 'beta'),
          ARRAY['cancelled: project opted out of webhooks'], 'its waiting webhook delivery is cancelled');
SELECT is((SELECT webhook_out FROM set_project_alerts('beta', webhook => true)), true, 'beta opts in again');
SELECT throws_ok($$SELECT set_project_alerts('nope', muted => true)$$,
                 '42704', 'project "nope" does not exist', 'an unknown project is an error');
SELECT throws_ok($$SELECT set_project_alerts(NULL, muted => true)$$,
                 '22004', NULL, 'a NULL project name is an error');

-- Mute: cancels what is waiting, and creates nothing new
SELECT is((SELECT muted_out FROM set_project_alerts('alpha', muted => true)), true, 'project muted');
SELECT is((SELECT array_agg(DISTINCT status) FROM schemahost.delivery d JOIN schemahost.event e
            ON e.id = d.event WHERE e.project = 'alpha'), ARRAY['cancelled'],
          'muting cancels the pending deliveries');
SELECT is(pg_temp.channels(pg_temp.emit('alpha', 'quota_over')), '{}'::text[],
          'a muted project gets no deliveries');
SELECT is((SELECT count(*) FROM schemahost.event WHERE project = 'alpha'), 2::bigint,
          'the event is still recorded in the outbox');
SELECT is((SELECT muted_out FROM set_project_alerts('alpha', muted => false)), false, 'project unmuted');
SELECT ok(retry_alert((SELECT d.id FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
                        WHERE e.project = 'alpha' AND channel = 'email')),
          'a cancelled delivery can be queued again');
SELECT ok(NOT retry_alert((SELECT d.id FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
                            WHERE e.project = 'alpha' AND channel = 'email')),
          'retry_alert refuses a delivery that is already pending');

-- Start the daemon API tests from a clean slate.
DELETE FROM schemahost.event;
SELECT is((SELECT owner_email_out FROM set_project_alerts('gamma', owner_email => ' gus@example.com ')),
          'gus@example.com', 'an owner email is stored trimmed');
DO $$
BEGIN
    PERFORM pg_temp.emit('alpha', 'quota_warning');
    PERFORM pg_temp.emit('alpha', 'quota_over');
    PERFORM pg_temp.emit('alpha', 'quota_ok');
    PERFORM pg_temp.emit('gamma', 'suspended');
END
$$;

-- Claim: channel filter, fairness between projects, everything needed to send
SELECT is((SELECT array_agg(project || ':' || kind || ':' || channel ORDER BY delivery)
             FROM schemahost_claim_deliveries(2, ARRAY['webhook'])),
          ARRAY['alpha:quota_warning:webhook', 'gamma:suspended:webhook'],
          'claim takes each project''s oldest first and only the asked channels');
SELECT is((SELECT array_agg(attempts ORDER BY d.id) FROM schemahost.delivery d
            WHERE channel = 'webhook' AND claimed_pid IS NOT NULL),
          ARRAY[1, 1], 'a claim counts as an attempt');
SELECT is((SELECT ROW(kind, recipient, attempt, quota_bytes, state, payload ->> 'percent')::text
             FROM schemahost_claim_deliveries(10, ARRAY['email']) WHERE project = 'alpha'
            ORDER BY delivery LIMIT 1),
          '(quota_warning,alice@example.com,1,1000000,active,85)',
          'claim returns kind, recipient, attempt, quota, state and payload');
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email'])), 4::bigint,
          'the claiming session may claim its own claims again');

SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email'], 10,
              (SELECT array_agg(d.id) FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
                WHERE e.kind = 'quota_over'))), 3::bigint,
          'deliveries still being sent can be excluded');

-- Claims of other sessions
UPDATE schemahost.delivery SET claimed_pid = 999999, claimed_backend_start = now() - interval '1 hour'
 WHERE channel = 'email';
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email'])), 4::bigint,
          'a claim by a session that no longer exists is void');
UPDATE schemahost.delivery SET (claimed_pid, claimed_backend_start) =
       (SELECT pid, backend_start FROM pg_stat_activity WHERE backend_type = 'checkpointer')
 WHERE channel = 'email';
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email'])), 0::bigint,
          'a claim by another live session is respected');
UPDATE schemahost.delivery SET claimed_pid = NULL, claimed_backend_start = NULL, attempts = 0;

-- Done
SELECT ok(schemahost_delivery_done(d.id), 'done marks a pending delivery')
  FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
 WHERE e.project = 'gamma' AND channel = 'webhook';
SELECT is((SELECT status || ':' || (delivered_at IS NOT NULL) || ':' || (claimed_pid IS NULL)
             FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'gamma' AND channel = 'webhook'),
          'delivered:true:true', 'a delivered delivery has its time and no claim');
SELECT ok(NOT schemahost_delivery_done(d.id), 'done is idempotent: a second call changes nothing')
  FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
 WHERE e.project = 'gamma' AND channel = 'webhook';
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['webhook'])
            WHERE project = 'gamma'), 0::bigint, 'a delivered delivery is never claimed again');

-- Failed: exponential backoff up to the cap, then failed for good
SELECT is(schemahost.alert_backoff(1, '10 s', '1 min'), interval '10 s', 'backoff after attempt 1 is the base');
SELECT is(schemahost.alert_backoff(2, '10 s', '1 min'), interval '20 s', 'backoff doubles');
SELECT is(schemahost.alert_backoff(3, '10 s', '1 min'), interval '40 s', 'backoff doubles again');
SELECT is(schemahost.alert_backoff(4, '10 s', '1 min'), interval '1 min', 'backoff stops at the cap');
SELECT is(schemahost.alert_backoff(1000, '10 s', '1 min'), interval '1 min', 'no overflow for many attempts');

CREATE TEMP TABLE t_del AS
    SELECT d.id FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
     WHERE e.project = 'gamma' AND channel = 'email';
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email']) c JOIN t_del ON t_del.id = c.delivery),
          1::bigint, 'attempt 1 claimed');
SELECT is(schemahost_delivery_failed(id, E'550 no such\r\nuser', 3, '10 s', '15 s'), 'pending',
          'a failed attempt below max_attempts stays pending') FROM t_del;
SELECT is((SELECT ROW(next_attempt_at - now(), last_error, claimed_pid)::text FROM schemahost.delivery JOIN t_del USING (id)),
          '(00:00:10,"550 no such user",)', 'retried after the base delay; the error is kept on one line');
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email']) c JOIN t_del ON t_del.id = c.delivery),
          0::bigint, 'not claimed before its retry time');
UPDATE schemahost.delivery d SET next_attempt_at = now() FROM t_del WHERE t_del.id = d.id;
SELECT is((SELECT attempt FROM schemahost_claim_deliveries(10, ARRAY['email']) c JOIN t_del ON t_del.id = c.delivery),
          2, 'attempt 2 claimed once due');
SELECT is(schemahost_delivery_failed(id, 'timeout', 3, '10 s', '15 s'), 'pending', 'attempt 2 failed') FROM t_del;
SELECT is((SELECT next_attempt_at - now() FROM schemahost.delivery JOIN t_del USING (id)),
          interval '15 s', 'second retry delay is capped');
UPDATE schemahost.delivery d SET next_attempt_at = now() FROM t_del WHERE t_del.id = d.id;
SELECT is((SELECT attempt FROM schemahost_claim_deliveries(10, ARRAY['email']) c JOIN t_del ON t_del.id = c.delivery),
          3, 'attempt 3 claimed');
SELECT is(schemahost_delivery_failed(id, 'HTTP 500', 3, '10 s', '15 s'), 'failed',
          'the last allowed attempt failing marks the delivery failed') FROM t_del;
SELECT is((SELECT ROW(project, kind, channel, attempts, last_error)::text FROM alert_failures),
          '(gamma,suspended,email,3,"HTTP 500")', 'alert_failures shows it with its last error');
SELECT throws_ok($$SELECT schemahost_delivery_failed(1, 'x', 3, '10 s', '1 s')$$, '22023',
                 'invalid retry backoff', 'a cap below the base is refused');
SELECT throws_ok($$SELECT * FROM schemahost_claim_deliveries(0, ARRAY['email'])$$, '22023',
                 'max_deliveries must be at least 1', 'claiming nothing is refused');

-- A daemon that dies after every claim does not resend forever.
UPDATE schemahost.delivery d SET attempts = 3, claimed_pid = 999999,
       claimed_backend_start = now() - interval '1 hour', last_error = 'earlier'
  FROM schemahost.event e WHERE e.id = d.event AND e.kind = 'quota_ok' AND channel = 'email';
SELECT is((SELECT count(*) FROM schemahost_claim_deliveries(10, ARRAY['email'], 3) WHERE kind = 'quota_ok'),
          0::bigint, 'a delivery whose claims used up max_attempts is not sent again');
SELECT matches((SELECT last_error FROM alert_failures WHERE kind = 'quota_ok'),
               '^schemahostd stopped while sending, 3 times; last error: earlier$',
               'it is marked failed with the reason');

-- Grants
SELECT ok(has_function_privilege('schemahost_daemon', 'schemahost_claim_deliveries(integer, text[], integer, bigint[])', 'EXECUTE')
          AND has_function_privilege('schemahost_daemon', 'schemahost_delivery_done(bigint)', 'EXECUTE')
          AND has_function_privilege('schemahost_daemon',
                  'schemahost_delivery_failed(bigint, text, integer, interval, interval)', 'EXECUTE'),
          'the daemon may claim, complete and fail deliveries');
SELECT ok(NOT has_function_privilege('public', 'schemahost_claim_deliveries(integer, text[], integer, bigint[])', 'EXECUTE')
          AND NOT has_function_privilege('public', 'schemahost_delivery_done(bigint)', 'EXECUTE')
          AND NOT has_function_privilege('public',
                  'schemahost_delivery_failed(bigint, text, integer, interval, interval)', 'EXECUTE')
          AND NOT has_function_privilege('schemahost_admin', 'schemahost_claim_deliveries(integer, text[], integer, bigint[])', 'EXECUTE'),
          'nobody else may');
SELECT ok(has_function_privilege('schemahost_admin', 'set_project_alerts(text, text, boolean, boolean)', 'EXECUTE')
          AND has_function_privilege('schemahost_admin', 'retry_alert(bigint)', 'EXECUTE')
          AND has_table_privilege('schemahost_admin', 'alert_failures', 'SELECT'),
          'the operator may set preferences, retry, and read failures');
SELECT ok(NOT has_function_privilege('public', 'set_project_alerts(text, text, boolean, boolean)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'retry_alert(bigint)', 'EXECUTE')
          AND NOT has_table_privilege('public', 'alert_failures', 'SELECT')
          AND NOT has_function_privilege('schemahost_daemon', 'set_project_alerts(text, text, boolean, boolean)', 'EXECUTE'),
          'tenants and the daemon may not');
SELECT ok(NOT has_table_privilege('schemahost_daemon', 'schemahost.delivery', 'SELECT')
          AND NOT has_table_privilege('schemahost_daemon', 'schemahost.event', 'SELECT'),
          'the daemon cannot read the internal tables');

-- Event retention: old events whose deliveries are all finished go, with
-- their deliveries; pending ones and the last drop of a dropped project stay.
INSERT INTO schemahost.project (name, owner_email, storage_quota_bytes, max_connections, state)
VALUES ('ret', 'rita@example.com', 1000000, 5, 'dropped');
CREATE TEMP TABLE t_ret AS
SELECT pg_temp.emit('ret', 'quota_warning') AS delivered_old,
       pg_temp.emit('ret', 'quota_over') AS pending_old,
       pg_temp.emit('ret', 'quota_ok') AS failed_old,
       pg_temp.emit('ret', 'dropped') AS first_drop,
       pg_temp.emit('ret', 'restored') AS restored_old,
       pg_temp.emit('ret', 'dropped') AS last_drop,
       pg_temp.emit('ret', 'quota_warning') AS delivered_new;
UPDATE schemahost.event SET occurred_at = now() - interval '40 days'
 WHERE project = 'ret' AND id <> (SELECT delivered_new FROM t_ret);
UPDATE schemahost.delivery SET status = 'delivered'
 WHERE event IN (SELECT unnest(ARRAY[delivered_old, first_drop, restored_old, last_drop, delivered_new]) FROM t_ret);
UPDATE schemahost.delivery SET status = CASE channel WHEN 'email' THEN 'failed' ELSE 'cancelled' END
 WHERE event = (SELECT failed_old FROM t_ret);
SELECT is((SELECT count(*) FROM schemahost.delivery WHERE status = 'pending'
            AND event = (SELECT pending_old FROM t_ret)), 2::bigint, 'one old event still has pending deliveries');

SELECT throws_ok($$SELECT schemahost_delete_old_events('1 hour')$$, '22023',
                 'event retention must be at least 1 day', 'a retention below one day is refused');
SELECT throws_ok($$SELECT schemahost_delete_old_events('30 days', 0)$$, '22023',
                 'max_events must be at least 1', 'max_events below 1 is refused');
SELECT is(schemahost_delete_old_events('30 days', 1), 1::bigint, 'at most max_events per call');
SELECT is(schemahost_delete_old_events('30 days'), 3::bigint, 'the rest of the old finished events');
SELECT is(schemahost_delete_old_events('30 days'), 0::bigint, 'nothing more on the next call');
SELECT is((SELECT array_agg(id ORDER BY id) FROM schemahost.event WHERE project = 'ret'),
          (SELECT ARRAY[pending_old, last_drop, delivered_new] FROM t_ret),
          'kept: pending deliveries, the last drop of a dropped project, recent events');
SELECT is((SELECT count(*) FROM schemahost.delivery d
            WHERE NOT EXISTS (SELECT 1 FROM schemahost.event e WHERE e.id = d.event)), 0::bigint,
          'the deliveries of deleted events are gone with them');
UPDATE schemahost.project SET state = 'active' WHERE name = 'ret';
SELECT is(schemahost_delete_old_events('30 days'), 1::bigint, 'once restored, the last drop may go too');
SELECT ok(has_function_privilege('schemahost_daemon', 'schemahost_delete_old_events(interval, integer)', 'EXECUTE')
          AND NOT has_function_privilege('public', 'schemahost_delete_old_events(interval, integer)', 'EXECUTE'),
          'the daemon may delete old events, tenants may not');

-- Purging a project removes its preferences with it.
DELETE FROM schemahost.project WHERE name = 'gamma';
SELECT is((SELECT count(*) FROM schemahost.alert_preference WHERE project = 'gamma'), 0::bigint,
          'preferences go with the project row');

-- A purged project's last event follows the preferences it had (they are
-- deleted with the project row, before that event is written).
INSERT INTO schemahost.project (name, owner_email, storage_quota_bytes, max_connections)
VALUES ('delta', 'dee@example.com', 1000000, 5), ('epsilon', 'eps@example.com', 1000000, 5);
SELECT is((SELECT muted_out FROM set_project_alerts('delta', muted => true)), true, 'delta muted');
SELECT is((SELECT webhook_out FROM set_project_alerts('epsilon', webhook => false)), false,
          'epsilon opted out of webhooks');
SELECT lives_ok($$SELECT schemahost.purge_project(p) FROM schemahost.project p
                   WHERE p.name IN ('delta', 'epsilon')$$, 'both purged');
SELECT is((SELECT count(*) FROM schemahost.delivery d JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'delta' AND e.kind = 'purged' AND d.status <> 'cancelled'), 0::bigint,
          'a muted project gets no delivery for its purge');
SELECT is((SELECT array_agg(d.channel ORDER BY d.channel) FROM schemahost.delivery d
             JOIN schemahost.event e ON e.id = d.event
            WHERE e.project = 'epsilon' AND e.kind = 'purged' AND d.status = 'pending'),
          ARRAY['email'], 'an opted-out project gets only the email about its purge');

-- The notification leaves the owner's address out (every role may LISTEN).
SELECT ok(NOT (schemahost.event_notification(e)::jsonb -> 'payload') ? 'owner_email'
          AND e.payload ? 'owner_email',
          'a purged event keeps owner_email in the outbox, not in its notification')
  FROM schemahost.event e WHERE e.project = 'epsilon' AND e.kind = 'purged';

-- Events for the operator role.
SELECT is((SELECT count(*) FROM project_events), (SELECT count(*) FROM schemahost.event),
          'project_events shows every event');
SELECT ok(has_table_privilege('schemahost_admin', 'project_events', 'SELECT')
          AND NOT has_table_privilege('public', 'project_events', 'SELECT')
          AND NOT has_table_privilege('schemahost_daemon', 'project_events', 'SELECT'),
          'the operator may read project_events; tenants and the daemon may not');

SELECT * FROM finish();
ROLLBACK;
