"""Tenant isolation, shown from the tenant's side: every test connects as the
project's login role, with the password create_project_schema() returned,
over TCP to 127.0.0.1 (scram-sha-256), exactly as an application would."""

import psycopg2
import psycopg2.errors

import harness


def admin_connect(cluster, dbname="postgres"):
    conn = psycopg2.connect(host=cluster.sock, port=cluster.port, user="postgres", dbname=dbname)
    conn.autocommit = True
    return conn


def create_project(admin, name, **kw):
    args = ", ".join([f"{k} => %({k})s" for k in kw])
    with admin.cursor() as cur:
        cur.execute(f"SELECT * FROM create_project_schema(%(name)s{', ' + args if args else ''})",
                    dict(name=name, **kw))
        return dict(zip([d[0] for d in cur.description], cur.fetchone()))


class TenantCase(harness.ClusterTestCase):
    """A cluster whose URIs name 127.0.0.1 (where scram-sha-256 applies), and an
    admin connection for the class."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.admin = admin_connect(cls.cluster)
        with cls.admin.cursor() as cur:
            cur.execute("ALTER SYSTEM SET schemahost.public_host = '127.0.0.1'")
            cur.execute("SELECT pg_reload_conf()")
        # The reload reaches this backend at its next command; a new
        # connection sees it for sure.
        cls.admin.close()
        cls.admin = admin_connect(cls.cluster)

    @classmethod
    def tearDownClass(cls):
        cls.admin.close()
        super().tearDownClass()


class IsolationTest(TenantCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.alpha = create_project(cls.admin, "alpha")
        cls.beta = create_project(cls.admin, "beta")
        beta = cls.tenant(cls.beta)
        with beta.cursor() as cur:
            cur.execute("CREATE TABLE items (id serial PRIMARY KEY, secret text)")
            cur.execute("INSERT INTO items (secret) VALUES ('beta-secret')")
            cur.execute("CREATE SEQUENCE counter")
            cur.execute("CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $$SELECT 'beta-f'$$")
            cur.execute("CREATE VIEW v AS SELECT * FROM items")
        beta.close()

    @staticmethod
    def tenant(project):
        conn = psycopg2.connect(project["connection_uri"])
        conn.autocommit = True
        return conn

    def setUp(self):
        self.conn = self.tenant(self.alpha)
        self.addCleanup(self.conn.close)

    def one(self, sql, args=None, conn=None):
        with (conn or self.conn).cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0] if cur.description else None

    def denied(self, sql, sqlstate="42501", conn=None):
        with self.assertRaises(psycopg2.Error, msg=sql) as cm:
            with (conn or self.conn).cursor() as cur:
                cur.execute(sql)
        self.assertEqual(cm.exception.pgcode, sqlstate, f"{sql}: {cm.exception}")

    # -------------------------------------------------------------- basics
    def test_uri_connects_as_the_tenant_into_its_schema(self):
        self.assertTrue(self.alpha["connection_uri"].startswith(
            f"postgresql://alpha:{self.alpha['password']}@127.0.0.1:{self.cluster.port}/postgres"))
        self.assertEqual(self.one("SELECT current_user"), "alpha")
        self.assertEqual(self.one("SELECT current_schema()"), "alpha")
        self.assertEqual(self.one("SHOW search_path"), "alpha")
        self.assertEqual(self.one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"), False)

    def test_orm_migrations_work_inside_its_schema(self):
        for sql in [
            "CREATE TYPE mood AS ENUM ('ok', 'sad')",
            "CREATE TABLE m_users (id bigserial PRIMARY KEY, email text UNIQUE, m mood)",
            "CREATE INDEX ON m_users (lower(email))",
            "ALTER TABLE m_users ADD COLUMN created timestamptz DEFAULT now()",
            "CREATE SEQUENCE m_seq",
            "CREATE VIEW m_view AS SELECT id, email FROM m_users",
            "CREATE FUNCTION m_fn(int) RETURNS int LANGUAGE sql AS 'SELECT $1 + 1'",
            "CREATE TABLE m_posts (id int PRIMARY KEY, user_id bigint REFERENCES m_users)",
            "INSERT INTO m_users (email, m) VALUES ('a@b', 'ok')",
            "ALTER TABLE m_users RENAME COLUMN email TO mail",
            "DROP VIEW m_view", "DROP TABLE m_posts", "DROP TABLE m_users", "DROP SEQUENCE m_seq",
            "DROP FUNCTION m_fn(int)", "DROP TYPE mood",
        ]:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        self.assertEqual(self.one("SELECT count(*) FROM pg_class WHERE relname LIKE 'm\\_%'"), 0)

    def test_old_password_stops_working_after_reset(self):
        with self.admin.cursor() as cur:
            cur.execute("SELECT * FROM create_project_schema('pwreset')")
            first = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        self.tenant(first).close()
        with self.admin.cursor() as cur:
            cur.execute("SELECT * FROM reset_project_password('pwreset')")
            second = dict(zip([d[0] for d in cur.description], cur.fetchone()))
        self.assertNotEqual(first["password"], second["password"])
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.tenant(first)
        self.assertIn("password authentication failed", str(cm.exception))
        self.tenant(second).close()

    # ------------------------------------------------- other projects' data
    def test_no_access_to_another_project(self):
        for sql in ["SELECT * FROM beta.items", "INSERT INTO beta.items (secret) VALUES ('x')",
                    "UPDATE beta.items SET secret = 'x'", "DELETE FROM beta.items",
                    "SELECT * FROM beta.v", "SELECT nextval('beta.counter')", "SELECT beta.f()",
                    "COPY beta.items TO STDOUT", "SELECT * FROM beta.items FOR UPDATE", "TRUNCATE beta.items",
                    "ALTER TABLE beta.items ADD COLUMN x int", "DROP TABLE beta.items",
                    "CREATE TABLE alpha.spy AS SELECT * FROM beta.items",
                    "CREATE VIEW alpha.spy_v AS SELECT * FROM beta.items",
                    "GRANT SELECT ON beta.items TO alpha", "COMMENT ON TABLE beta.items IS 'x'"]:
            self.denied(sql)
        self.conn.autocommit = False
        try:
            self.denied("LOCK TABLE beta.items IN ACCESS EXCLUSIVE MODE")
        finally:
            self.conn.rollback()
            self.conn.autocommit = True

    def test_no_access_to_another_project_by_oid(self):
        seq = self.one("SELECT oid FROM pg_class WHERE relname = 'counter' AND relnamespace = 'beta'::regnamespace")
        table = self.one("SELECT oid FROM pg_class WHERE relname = 'items' AND relnamespace = 'beta'::regnamespace")
        self.denied(f"SELECT nextval({seq})")
        self.denied(f"SELECT currval({seq})")
        self.denied(f"SELECT setval({seq}, 5)")
        self.assertFalse(self.one(f"SELECT has_table_privilege({table}, 'SELECT')"))
        self.denied("SELECT has_function_privilege('beta.f()', 'EXECUTE')")
        fn = self.one("SELECT oid FROM pg_proc WHERE proname = 'f' AND pronamespace = 'beta'::regnamespace")
        # default privileges took EXECUTE from PUBLIC on the tenant's functions
        self.assertFalse(self.one(f"SELECT has_function_privilege({fn}, 'EXECUTE')"))

    # ---------------------------------------------- creating outside its schema
    def test_cannot_create_outside_its_schema(self):
        for sql in ["CREATE TABLE public.x (i int)", "CREATE TABLE beta.x (i int)",
                    "CREATE TABLE pg_catalog.x (i int)", "CREATE TABLE schemahost.x (i int)",
                    "CREATE FUNCTION public.f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                    "CREATE SCHEMA mine", "CREATE SCHEMA AUTHORIZATION alpha",
                    "CREATE DATABASE mine", "CREATE ROLE mine", "CREATE USER mine",
                    "CREATE EXTENSION hstore", "CREATE EXTENSION hstore SCHEMA alpha",
                    "CREATE TABLESPACE t LOCATION '/tmp'", "CREATE PUBLICATION p FOR ALL TABLES",
                    "CREATE EVENT TRIGGER e ON ddl_command_start EXECUTE FUNCTION alpha.nothing()"]:
            self.denied(sql)

    # --------------------------------------------------- roles and itself
    def test_cannot_become_another_role(self):
        for sql in ["SET ROLE beta", "SET ROLE postgres", "SET ROLE schemahost_admin",
                    "SET ROLE schemahost_daemon", "SET SESSION AUTHORIZATION beta",
                    "SET SESSION AUTHORIZATION postgres"]:
            self.denied(sql)
        with self.conn.cursor() as cur:
            cur.execute("SET ROLE alpha")  # its own role is fine
        self.assertEqual(self.one("SELECT current_user"), "alpha")

    def test_cannot_change_its_own_role_or_quota(self):
        for sql in ["ALTER ROLE alpha CONNECTION LIMIT 1000", "ALTER ROLE CURRENT_USER CONNECTION LIMIT -1",
                    "ALTER ROLE alpha SUPERUSER", "ALTER ROLE alpha CREATEDB", "ALTER ROLE alpha CREATEROLE",
                    "ALTER ROLE alpha REPLICATION", "ALTER ROLE alpha BYPASSRLS",
                    "ALTER ROLE alpha VALID UNTIL 'infinity'", "ALTER ROLE alpha NOLOGIN",
                    "GRANT schemahost_admin TO alpha", "GRANT beta TO alpha", "DROP ROLE beta",
                    "UPDATE schemahost.project SET storage_quota_bytes = 1e15 WHERE name = 'alpha'",
                    "SELECT public.set_project_quota('alpha', '1 PB', 100)"]:
            self.denied(sql)
        # Refused by the hook (42501) before stock PostgreSQL would say 0A000,
        # "session user cannot be renamed".
        self.denied("ALTER ROLE alpha RENAME TO a2", "42501")
        self.assertEqual(self.one("SELECT rolconnlimit FROM pg_roles WHERE rolname = 'alpha'"), 10)

    def test_cannot_change_its_role_from_another_database(self):
        # Roles are cluster-wide and template1 grants CONNECT to PUBLIC by
        # default (schemahost_check() reports it): from there the tenant
        # changed its own password and settings (security audit).
        other = psycopg2.connect(self.alpha["connection_uri"], dbname="template1")
        other.autocommit = True
        self.addCleanup(other.close)
        for sql in ["ALTER ROLE CURRENT_USER PASSWORD 'mine-now'",
                    "ALTER ROLE alpha SET search_path = public, alpha",
                    "ALTER ROLE alpha IN DATABASE postgres SET work_mem = '1GB'",
                    "ALTER ROLE alpha RENAME TO a2"]:
            self.denied(sql, conn=other)
        self.assertEqual(self.one("SELECT count(*) FROM pg_db_role_setting s JOIN pg_roles r "
                                  "ON r.oid = s.setrole WHERE r.rolname = 'alpha' AND s.setdatabase <> 0",
                                  conn=self.admin), 0)
        # The URI's password still works.
        self.assertEqual(self.one("SELECT current_user", conn=self.tenant(self.alpha)), "alpha")

    def test_cannot_drop_rename_or_reown_its_schema(self):
        for sql in ["DROP SCHEMA alpha", "DROP SCHEMA alpha CASCADE", "ALTER SCHEMA alpha RENAME TO other",
                    "ALTER SCHEMA alpha OWNER TO alpha"]:
            self.denied(sql)
        # Without grant options, GRANT and REVOKE only warn and change nothing.
        for sql in ["GRANT USAGE ON SCHEMA alpha TO beta", "GRANT ALL ON SCHEMA alpha TO PUBLIC",
                    "REVOKE USAGE ON SCHEMA alpha FROM alpha"]:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        self.assertEqual(self.one("SELECT nspacl::text FROM pg_namespace WHERE nspname = 'alpha'"),
                         "{postgres=UC/postgres,alpha=UC/postgres}")
        self.assertEqual(self.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'alpha'"), 1)
        self.assertTrue(self.one("SELECT has_schema_privilege('alpha', 'CREATE')"))

    def test_cannot_execute_admin_functions(self):
        # Qualified: the tenant's search_path is its own schema only.
        for sql in ["SELECT * FROM public.create_project_schema('x')",
                    "SELECT public.drop_project_schema('beta', true)",
                    "SELECT public.restore_project('beta')", "SELECT public.suspend_project('beta')",
                    "SELECT public.resume_project('beta')", "SELECT * FROM public.reset_project_password('beta')",
                    "SELECT public.set_project_quota('beta', '1 MB')", "SELECT * FROM public.projects",
                    "SELECT * FROM public.schemahost_check()", "SELECT * FROM public.schemahost_purge_expired()",
                    "SELECT * FROM schemahost.project", "SELECT * FROM schemahost.event",
                    "SELECT schemahost.new_credentials('beta')", "SELECT schemahost.check_project_name('x')"]:
            self.denied(sql)

    def test_cannot_signal_another_projects_backends(self):
        beta = self.tenant(self.beta)
        self.addCleanup(beta.close)
        pid = self.one("SELECT pg_backend_pid()", conn=beta)
        self.denied(f"SELECT pg_terminate_backend({pid})")
        self.denied(f"SELECT pg_cancel_backend({pid})")
        admin_pid = self.admin.get_backend_pid()
        self.denied(f"SELECT pg_terminate_backend({admin_pid})")
        self.assertEqual(self.one("SELECT 1", conn=beta), 1, "beta's session survived")
        # and it cannot see what others run
        self.assertEqual(self.one(f"SELECT query FROM pg_stat_activity WHERE pid = {pid}"),
                         "<insufficient privilege>")

    def test_cannot_shadow_admin_lookups(self):
        # The tenant plants look-alikes of what the admin functions call, each
        # leaving a trace when run; an operator whose search_path puts the
        # tenant's schema first then runs the admin API.
        for sql in [
            "CREATE TABLE trace (what text)",
            "GRANT INSERT ON trace TO PUBLIC",
            "CREATE FUNCTION alpha.pg_size_bytes(text) RETURNS bigint LANGUAGE sql AS "
            "$$INSERT INTO alpha.trace VALUES ('pg_size_bytes') RETURNING 1::bigint$$",
            "CREATE FUNCTION alpha.current_setting(text) RETURNS text LANGUAGE sql AS "
            "$$INSERT INTO alpha.trace VALUES ('current_setting') RETURNING '1'$$",
            "CREATE FUNCTION alpha.hashtext(text) RETURNS int LANGUAGE sql AS "
            "$$INSERT INTO alpha.trace VALUES ('hashtext') RETURNING 1$$",
            "CREATE FUNCTION alpha.format(text, VARIADIC text[]) RETURNS text LANGUAGE sql AS "
            "$$INSERT INTO alpha.trace VALUES ('format') RETURNING 'x'$$",
            "CREATE FUNCTION alpha.eq(text, text) RETURNS boolean LANGUAGE sql AS "
            "$$INSERT INTO alpha.trace VALUES ('=') RETURNING true$$",
            "CREATE OPERATOR alpha.= (LEFTARG = text, RIGHTARG = text, FUNCTION = alpha.eq)",
            "CREATE TABLE alpha.project (name text)",
            "CREATE TABLE alpha.pg_authid (rolname text)",
        ]:
            with self.conn.cursor() as cur:
                cur.execute(sql)
        with self.admin.cursor() as cur:
            cur.execute("SET search_path = alpha, pg_catalog, public")
            try:
                cur.execute("SELECT * FROM public.create_project_schema('shadowed', storage_quota => '5 MB')")
                cur.execute("SELECT public.set_project_quota('shadowed', '6 MB', 3)")
                cur.execute("SELECT public.suspend_project('shadowed')")
                cur.execute("SELECT public.drop_project_schema('shadowed', purge => true)")
                cur.execute("SELECT count(*) FROM public.schemahost_check()")
            finally:
                cur.execute("RESET search_path")
        self.assertEqual(self.one("SELECT count(*) FROM alpha.trace"), 0)
        # Temporary objects of the tenant live in its own session's pg_temp
        # only; the admin functions put pg_temp last in any case.
        with self.conn.cursor() as cur:
            try:
                cur.execute("CREATE TEMP TABLE project (name text)")
            except psycopg2.Error:
                pass  # blocked for tenants by the enforcement hooks or the database ACL

    def test_cannot_shadow_the_version_lookup(self):
        # schemahost_version() (PUBLIC) reads pg_extension through SPI. A
        # tenant's own "=" for name ahead of pg_catalog's, failing with a 40 MB
        # message, crashed the backend there (the server restarted): the lookup
        # used the tenant's operator, and the error was rethrown from memory
        # SPI_finish() had freed. Now the operator is qualified and the error
        # kept where it outlives the unwinding.
        with self.conn.cursor() as cur:
            cur.execute("CREATE FUNCTION alpha.huge_error(name, name) RETURNS boolean LANGUAGE sql AS "
                        "$$SELECT pg_catalog.repeat('x', 40000000)::int4 > 0$$")
            cur.execute("CREATE OPERATOR alpha.= (LEFTARG = name, RIGHTARG = name, FUNCTION = alpha.huge_error)")
        self.addCleanup(self.one, "DROP FUNCTION alpha.huge_error(name, name) CASCADE")
        started = self.one("SELECT pg_postmaster_start_time()", conn=self.admin)
        for conn in (self.conn, self.admin):
            with conn.cursor() as cur:
                cur.execute("SET search_path = alpha, pg_catalog, public")
                try:
                    cur.execute("SELECT library_version, sql_version FROM public.schemahost_version()")
                    library, sql = cur.fetchone()
                finally:
                    cur.execute("RESET search_path")
            self.assertEqual(library, sql)
        self.assertEqual(self.one("SELECT pg_postmaster_start_time()", conn=self.admin), started)

    def test_cannot_hold_schemahost_locks(self):
        # Advisory locks are open to every role. A tenant that took the keys
        # of the refresh, the runtime-limit enforcer, the active daemon or a
        # project's lifecycle and stayed connected stopped them for the whole
        # database (security audit). Its session is ended when one of them
        # needs the lock; an operator holding one is waited for.
        keys = {
            "refresh": "SELECT pg_advisory_lock(5346281, 30)",
            "enforcer": "SELECT pg_advisory_lock(5346281, 40)",
            "daemon": "SELECT pg_advisory_lock(5346281, 4000)",
            "beta's name": "SELECT pg_advisory_lock(hashtext('schemahost.project'), hashtext('beta'))",
            "database ACL": "SELECT pg_advisory_lock(hashtext('schemahost.database_acl'), 0)",
        }
        calls = {
            "refresh": "SELECT count(*) FROM schemahost_refresh_usage()",
            "enforcer": "SELECT count(*) FROM schemahost_enforce_runtime_limits()",
            "daemon": "SELECT schemahost_daemon_try_lock()",
            "beta's name": "SELECT * FROM set_project_quota('beta', '200 MB')",
            "database ACL": "SELECT * FROM create_project_schema('gamma_locked')",
        }
        self.addCleanup(lambda: self.one("SELECT drop_project_schema('gamma_locked', purge => true) "
                                         "FROM projects WHERE name = 'gamma_locked'", conn=self.admin))
        for what, sql in keys.items():
            with self.subTest(lock=what):
                holder = self.tenant(self.alpha)
                self.one(sql, conn=holder)
                op = admin_connect(self.cluster)
                try:
                    self.one("SET lock_timeout = '20s'", conn=op)
                    self.one(calls[what], conn=op)
                    if what == "daemon":
                        self.one("SELECT pg_advisory_unlock_all()", conn=op)
                finally:
                    op.close()
                with self.assertRaises(psycopg2.OperationalError):
                    self.one("SELECT 1", conn=holder)
                holder.close()
        # The purge of an expired project whose name lock a tenant holds.
        self.one("SELECT create_project_schema('doomed')", conn=self.admin)
        self.one("SELECT drop_project_schema('doomed')", conn=self.admin)
        self.one("UPDATE schemahost.project SET purge_after = now() - interval '1 second' "
                 "WHERE name = 'doomed'", conn=self.admin)
        holder = self.tenant(self.alpha)
        self.one("SELECT pg_advisory_lock(hashtext('schemahost.project'), hashtext('doomed'))", conn=holder)
        self.assertEqual(self.one("SELECT * FROM schemahost_purge_expired()", conn=self.admin), "doomed")
        with self.assertRaises(psycopg2.OperationalError):
            self.one("SELECT 1", conn=holder)
        holder.close()
        # An operator's session holding the refresh lock is waited for, not ended.
        op_holder = admin_connect(self.cluster)
        op = admin_connect(self.cluster)
        try:
            self.one("SELECT pg_advisory_lock(5346281, 30)", conn=op_holder)
            self.one("SET lock_timeout = '300ms'", conn=op)
            with self.assertRaises(psycopg2.errors.LockNotAvailable):
                self.one("SELECT count(*) FROM schemahost_refresh_usage()", conn=op)
            self.assertEqual(self.one("SELECT 1", conn=op_holder), 1)
        finally:
            op.close()
            op_holder.close()

    def test_catalog_shows_names_but_no_data(self):
        # Documented in docs/isolation.md: names are visible, contents are not.
        self.assertEqual(self.one("SELECT count(*) FROM pg_namespace WHERE nspname = 'beta'"), 1)
        self.denied("SELECT secret FROM beta.items")
        self.denied("SELECT rolpassword FROM pg_authid")


class LifecycleSessionsTest(TenantCase):
    """suspend / drop end the tenant's sessions and its logins; resume /
    restore bring them back; purge leaves nothing that can log in."""

    def tenant(self, project):
        conn = psycopg2.connect(project["connection_uri"])
        conn.autocommit = True
        return conn

    def call(self, sql, *args):
        with self.admin.cursor() as cur:
            cur.execute(sql, args)

    def assert_session_ended(self, conn):
        with self.assertRaises(psycopg2.Error):
            with conn.cursor() as cur:
                cur.execute("SELECT 1")

    def assert_cannot_login(self, project):
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.tenant(project)
        self.assertIn("not permitted to log in", str(cm.exception))

    def test_suspend_and_resume(self):
        p = create_project(self.admin, "sus")
        live = self.tenant(p)
        self.call("SELECT suspend_project('sus')")
        self.assert_session_ended(live)
        self.assert_cannot_login(p)
        self.call("SELECT resume_project('sus')")
        self.tenant(p).close()

    def test_drop_restore_purge(self):
        p = create_project(self.admin, "dropme")
        live = self.tenant(p)
        with live.cursor() as cur:
            cur.execute("CREATE TABLE keep (v text)")
            cur.execute("INSERT INTO keep VALUES ('still here')")
        self.call("SELECT drop_project_schema('dropme')")
        self.assert_session_ended(live)
        self.assert_cannot_login(p)
        self.call("SELECT restore_project('dropme')")
        back = self.tenant(p)
        with back.cursor() as cur:
            cur.execute("SELECT v FROM keep")
            self.assertEqual(cur.fetchone()[0], "still here")
        self.call("SELECT drop_project_schema('dropme', purge => true)")
        self.assert_session_ended(back)
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.tenant(p)
        self.assertIn("password authentication failed", str(cm.exception))
        with self.admin.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = 'dropme'")
            self.assertEqual(cur.fetchone()[0], 0)

    def test_connection_limit_is_the_quota(self):
        p = create_project(self.admin, "limited", max_connections=2)
        conns = [self.tenant(p), self.tenant(p)]
        with self.assertRaises(psycopg2.OperationalError) as cm:
            self.tenant(p)
        self.assertIn("too many connections for role", str(cm.exception))
        self.call("SELECT set_project_quota('limited', max_connections => 3)")
        conns.append(self.tenant(p))
        for c in conns:
            c.close()

    def test_password_never_in_statement_text(self):
        # Log every statement, then provision and reset: the log must hold
        # neither password.
        self.call("ALTER SYSTEM SET log_statement = 'all'")
        self.call("ALTER SYSTEM SET log_min_duration_statement = 0")
        self.call("SELECT pg_reload_conf()")
        admin = admin_connect(self.cluster)
        try:
            with admin.cursor() as cur:
                cur.execute("SHOW log_statement")
                self.assertEqual(cur.fetchone()[0], "all")
                cur.execute("SELECT password FROM create_project_schema('logged')")
                first = cur.fetchone()[0]
                cur.execute("SELECT password FROM reset_project_password('logged')")
                second = cur.fetchone()[0]
                cur.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'logged'")
                secret = cur.fetchone()[0]
                cur.execute("SELECT 'marker-after-reset'")
        finally:
            admin.close()
            self.call("ALTER SYSTEM RESET log_statement")
            self.call("ALTER SYSTEM RESET log_min_duration_statement")
            self.call("SELECT pg_reload_conf()")
        self.assertTrue(secret.startswith("SCRAM-SHA-256$"))
        with open(self.cluster.log) as f:
            log = f.read()
        self.assertIn("marker-after-reset", log, "statements were logged")
        self.assertIn("create_project_schema('logged')", log)
        self.assertNotIn(first, log)
        self.assertNotIn(second, log)
        self.assertNotIn(secret, log, "not even the verifier is in statement text")


class WithoutPreloadProvisioningTest(harness.ClusterTestCase):
    preload = False

    def test_warns_and_check_reports_it(self):
        admin = admin_connect(self.cluster)
        try:
            with admin.cursor() as cur:
                cur.execute("SELECT project FROM create_project_schema('np')")
                self.assertEqual(cur.fetchone()[0], "np")
                self.assertTrue(any("not in shared_preload_libraries" in n for n in admin.notices),
                                admin.notices)
                del admin.notices[:]
                cur.execute("SELECT suspend_project('np')")
                self.assertTrue(any("not in shared_preload_libraries" in n for n in admin.notices))
                cur.execute("SELECT fix FROM schemahost_check() WHERE setting = 'shared_preload_libraries'")
                self.assertIn("ALTER SYSTEM SET shared_preload_libraries = 'schemahost'", cur.fetchone()[0])
        finally:
            admin.close()
