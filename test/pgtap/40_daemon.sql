-- The daemon's SQL API (sql/0.1.0/40_daemon.sql): runtime limits and their
-- settings, the version handshake, the active-daemon lock, connection counts
-- and who may call what. Enforcement against live sessions is tested end to
-- end in test/integration/test_daemon.py.
BEGIN;
CREATE EXTENSION schemahost;
SET client_min_messages = warning;
SELECT plan(30);

SELECT lives_ok($$SELECT create_project_schema('lim')$$, 'project created');

-- ------------------------------------------------------------- limits
SET schemahost.default_statement_timeout = '90s';
SET schemahost.default_idle_in_transaction_timeout = '0';
SELECT results_eq($$SELECT statement_timeout, statement_timeout_is_default, idle_in_transaction_timeout
                      FROM project_limits WHERE name = 'lim'$$,
                  $$VALUES (interval '90 s', true, interval '0')$$, 'defaults come from the GUCs');
SELECT lives_ok($$SELECT set_project_limits('lim', statement_timeout => '2 s')$$, 'statement limit set');
SELECT results_eq($$SELECT statement_timeout, statement_timeout_is_default, idle_in_transaction_timeout_is_default
                      FROM project_limits WHERE name = 'lim'$$,
                  $$VALUES (interval '2 s', false, true)$$, 'override shown, other limit still default');
SELECT lives_ok($$SELECT set_project_limits('lim', idle_in_transaction_timeout => '3 min')$$, 'idle limit set');
SELECT is((SELECT statement_timeout FROM schemahost.project WHERE name = 'lim'), interval '2 s',
          'NULL leaves the other limit unchanged');
SELECT lives_ok($$SELECT set_project_limits('lim', use_defaults => true)$$, 'back to defaults');
SELECT results_eq($$SELECT statement_timeout, idle_in_transaction_timeout FROM schemahost.project WHERE name = 'lim'$$,
                  $$VALUES (NULL::interval, NULL::interval)$$, 'overrides cleared');
SELECT lives_ok($$SELECT set_project_limits('lim', statement_timeout => '0')$$, '0 = no limit is accepted');
SELECT throws_ok($$SELECT set_project_limits('lim')$$, '22004', 'no limit given', 'nothing to set: 22004');
SELECT throws_ok($$SELECT set_project_limits('lim', statement_timeout => '-1 s')$$, '22023',
                 'statement_timeout must not be negative', 'negative: 22023');
SELECT throws_ok($$SELECT set_project_limits('lim', idle_in_transaction_timeout => '10 ms')$$, '22023',
                 'idle_in_transaction_timeout must be at least 1 second', 'below 1 s: 22023');
SELECT throws_ok($$SELECT set_project_limits('nope', statement_timeout => '1 min')$$, '42704', NULL,
                 'unknown project: 42704');
SELECT throws_ok($$UPDATE schemahost.project SET statement_timeout = '-1 s' WHERE name = 'lim'$$, '23514', NULL,
                 'the table refuses negative limits too');
SELECT is((SELECT count(*)::int FROM schemahost_enforce_runtime_limits()), 0,
          'nothing to enforce without project sessions');
RESET schemahost.default_statement_timeout;
RESET schemahost.default_idle_in_transaction_timeout;
SELECT is(schemahost.runtime_limit_default('schemahost.default_statement_timeout', '1 h'), interval '5 min',
          'built-in default of the statement limit');
SELECT is(schemahost.runtime_limit_default('schemahost.no_such_setting', '1 h'), interval '1 h',
          'the fallback when the GUC is not defined');

-- ---------------------------------------------------------- handshake
SELECT is(schemahost_daemon_hello('0.1.1'), '0.1.1', 'same version');
SELECT is(schemahost_daemon_hello('0.1.9-dev'), '0.1.1', 'another patch level is compatible');
SELECT throws_ok($$SELECT schemahost_daemon_hello('0.2.0')$$, '0A000',
                 'schemahostd 0.2.0 is not compatible with schemahost 0.1.1', 'newer minor: 0A000');
SELECT throws_ok($$SELECT schemahost_daemon_hello('1.1.0')$$, '0A000', NULL, 'other major: 0A000');
SELECT throws_ok($$SELECT schemahost_daemon_hello('banana')$$, '22023', NULL, 'not a version: 22023');

-- --------------------------------------------------------------- lock
SELECT is(schemahost_daemon_try_lock(), true, 'the lock is taken');
SELECT is(schemahost_daemon_try_lock(), true, 'taking it again in the same session is fine');
SELECT is((SELECT pid FROM schemahost_active_daemon()), pg_backend_pid(), 'this session is the active daemon');
SELECT pg_advisory_unlock_all();
SELECT is((SELECT count(*)::int FROM schemahost_active_daemon()), 0, 'no active daemon after unlock');

-- ------------------------------------------------- connection counts
SELECT is((SELECT count(*)::int FROM schemahost_connection_counts()), 0, 'no project session, no row');

-- --------------------------------------------------------- privileges
SELECT ok(has_function_privilege('schemahost_daemon', 'schemahost_enforce_runtime_limits()', 'EXECUTE')
          AND has_function_privilege('schemahost_daemon', 'schemahost_connection_counts()', 'EXECUTE')
          AND has_function_privilege('schemahost_daemon', 'schemahost_daemon_hello(text)', 'EXECUTE')
          AND has_function_privilege('schemahost_daemon', 'schemahost_daemon_try_lock()', 'EXECUTE'),
          'the daemon may call its API');
SELECT ok(has_function_privilege('schemahost_admin', 'set_project_limits(text, interval, interval, boolean)', 'EXECUTE')
          AND NOT has_function_privilege('schemahost_daemon', 'set_project_limits(text, interval, interval, boolean)', 'EXECUTE'),
          'limits are set by the operator only');
SELECT ok(NOT has_function_privilege('lim', 'schemahost_enforce_runtime_limits()', 'EXECUTE')
          AND NOT has_function_privilege('lim', 'schemahost_daemon_try_lock()', 'EXECUTE')
          AND NOT has_function_privilege('lim', 'set_project_limits(text, interval, interval, boolean)', 'EXECUTE')
          AND NOT has_table_privilege('lim', 'project_limits', 'SELECT'),
          'tenants may call none of it');

SELECT * FROM finish();
ROLLBACK;
