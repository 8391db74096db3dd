"""Alert delivery end to end: the real schemahostd against real peers on
loopback, an SMTP server (aiosmtpd) and an HTTP listener, both run in this
process. Events are written into the outbox the way the quota and
lifecycle code writes them."""

import asyncio
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import select
import signal
import subprocess
import tempfile
import threading
import time

import psycopg2
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import harness
from harness import wait_for

SMTP_USER = "mailer"
SMTP_PASSWORD = "smtp-pa55word-do-not-log"
WEBHOOK_SECRET = "whsec-do-not-log"
OPERATOR = "ops@schemahost.test"
FROM = "alerts@schemahost.test"


class SmtpSink:
    """An SMTP server on loopback that records every message it accepts.
    rules maps a recipient to 'reject' (550 at RCPT), 'hang' (DATA never
    answered until release()) or a callable run before DATA is answered."""

    def __init__(self):
        self.messages = []  # (time, envelope recipients, parsed message)
        self.rcpt_seen = []  # (time, recipient) for every RCPT, accepted or not
        self.rules = {}
        self.authenticated = []
        self.password = SMTP_PASSWORD  # the only one AUTH accepts; a test may rotate it
        self.auth_attempts = []  # (login, password, accepted) for every AUTH
        self.lock = threading.Lock()
        self.released = threading.Event()
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                with sink.lock:
                    sink.rcpt_seen.append((time.monotonic(), address))
                if sink.rules.get(address) == "reject":
                    return "550 5.1.1 mailbox unavailable"
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                for rcpt in envelope.rcpt_tos:
                    rule = sink.rules.get(rcpt)
                    if rule == "hang":
                        while not sink.released.is_set():
                            await asyncio.sleep(0.05)
                        return "451 released"
                msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
                with sink.lock:
                    sink.messages.append((time.monotonic(), list(envelope.rcpt_tos), msg))
                    sink.authenticated.append(session.authenticated)
                for rcpt in envelope.rcpt_tos:
                    rule = sink.rules.get(rcpt)
                    if callable(rule):
                        rule()
                return "250 Message accepted"

        def authenticator(server, session, envelope, mechanism, auth_data):
            with sink.lock:
                ok = (auth_data.login == SMTP_USER.encode()
                      and auth_data.password == sink.password.encode())
                sink.auth_attempts.append((auth_data.login.decode(), auth_data.password.decode(), ok))
            return AuthResult(success=ok)

        self.port = harness.pgcluster.free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port,
                                     authenticator=authenticator, auth_require_tls=False)
        self.controller.start()

    def to(self, address):
        with self.lock:
            return [m for _, rcpts, m in self.messages if address in rcpts]

    def stop(self):
        self.released.set()
        self.controller.stop()


class HttpSink:
    """An HTTP listener on loopback recording every POST. rules maps a project
    name to an HTTP status, 'hang' (no answer until release()) or a callable
    run before the 200 answer."""

    def __init__(self):
        self.requests = []  # (time, headers dict, body bytes)
        self.rules = {}
        self.lock = threading.Lock()
        self.released = threading.Event()
        self.hanging = threading.Event()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.lock:
                    sink.requests.append((time.monotonic(), dict(self.headers), body))
                try:
                    project = json.loads(body).get("project")
                except ValueError:
                    project = None
                rule = sink.rules.get(project)
                if rule == "hang":
                    sink.hanging.set()
                    sink.released.wait(120)
                    return
                if callable(rule):
                    rule()
                status = rule if isinstance(rule, int) else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/schemahost"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def for_project(self, project):
        with self.lock:
            out = []
            for t, headers, body in self.requests:
                doc = json.loads(body)
                if doc.get("project") == project:
                    out.append((t, headers, body, doc))
            return out

    def stop(self):
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


class AlertTestCase(harness.ClusterTestCase):
    daemon_args = ()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster.psql("CREATE ROLE alertd LOGIN; GRANT schemahost_daemon TO alertd;")

    def setUp(self):
        self.smtp = SmtpSink()
        self.http = HttpSink()
        self.addCleanup(self.smtp.stop)
        self.addCleanup(self.http.stop)
        self.dir = tempfile.mkdtemp(prefix="alerts-", dir=self.tmp)
        self.pwfile = os.path.join(self.dir, "smtp-password")
        with open(self.pwfile, "w") as f:
            f.write(SMTP_PASSWORD + "\n")
        self.secretfile = os.path.join(self.dir, "webhook-secret")
        with open(self.secretfile, "w") as f:
            f.write(WEBHOOK_SECRET + "\n")
        self.procs = []
        self.logs = []
        self.psql("DELETE FROM schemahost.event; DELETE FROM schemahost.project;")

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def start_daemon(self, *extra):
        log = os.path.join(self.dir, f"daemon-{len(self.logs)}.log")
        self.logs.append(log)
        args = [harness.DAEMON, "--dsn", self.cluster.dsn(user="alertd"), "--interval", "0.2",
                "--smtp-url", f"smtp://127.0.0.1:{self.smtp.port}", "--smtp-from", FROM,
                "--smtp-user", SMTP_USER, "--smtp-password-file", self.pwfile,
                "--operator-email", OPERATOR,
                "--webhook-url", self.http.url, "--webhook-secret-file", self.secretfile,
                *self.daemon_args, *extra]
        with open(log, "w") as out:
            p = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=harness.daemon_env())
        self.procs.append(p)
        return p

    def stop_daemon(self, p, timeout=60):
        p.send_signal(signal.SIGTERM)
        self.assertEqual(p.wait(timeout=timeout), 0, self.all_logs())

    def wait(self, cond, timeout, what):
        try:
            return wait_for(cond, timeout, what)
        except AssertionError as e:
            raise AssertionError(f"{e}\nstatuses: {self.statuses()}\nlogs:\n{self.all_logs()[-6000:]}")

    def all_logs(self):
        text = ""
        for log in self.logs:
            with open(log) as f:
                text += f.read()
        return text

    def project(self, name, owner_email):
        self.psql(f"INSERT INTO schemahost.project (name, owner_email, storage_quota_bytes, "
                  f"max_connections) VALUES ('{name}', "
                  f"{'NULL' if owner_email is None else repr(owner_email)}, 1000000, 5)")

    def fill_past_quota(self, project):
        """Writes ~2.5 MB into a table of the project as its role. The daemon
        may measure the project over while the INSERT runs and cancel it
        (that is how the overshoot is bounded); the rows' pages stay
        allocated, so the project is over either way. (A CREATE TABLE AS
        would not do: cancelled, its new files are removed.)"""
        self.psql("CREATE TABLE big (x text)", user=project)
        try:
            self.psql("INSERT INTO big SELECT repeat(md5(i::text), 40) FROM generate_series(1, 2000) i",
                      user=project)
        except RuntimeError as e:
            if "canceling statement due to user request" not in str(e):
                raise

    def emit(self, project, kind, payload=None):
        payload = payload or {}
        out = self.psql(f"INSERT INTO schemahost.event (project, kind, payload) VALUES "
                        f"('{project}', '{kind}', '{json.dumps(payload)}') RETURNING event_id").stdout
        return out.strip().splitlines()[0].strip()

    def statuses(self, project=None):
        where = f"WHERE e.project = '{project}'" if project else ""
        out = self.psql("SELECT e.kind || '/' || d.channel || '=' || d.status FROM schemahost.delivery d "
                        f"JOIN schemahost.event e ON e.id = d.event {where} ORDER BY d.id").stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def all_delivered(self, project=None):
        s = self.statuses(project)
        return bool(s) and all(x.endswith("=delivered") for x in s)


def quota(used, quota_bytes=1000000):
    return {"used_bytes": used, "quota_bytes": quota_bytes,
            "percent": round(100.0 * used / quota_bytes, 1)}


class DeliveryTest(AlertTestCase):
    def test_each_transition_arrives_exactly_once_with_the_right_content(self):
        self.project("blog", "owner@blog.test")
        self.project("quiet", "quiet@owner.test")
        self.psql("SELECT set_project_alerts('quiet', muted => true)")
        self.project("nohook", "nohook@owner.test")
        self.psql("SELECT set_project_alerts('nohook', webhook => false)")

        # NOTIFY on the documented channel, for operators' tooling.
        listener = psycopg2.connect(self.cluster.dsn())
        listener.autocommit = True
        listener.cursor().execute("LISTEN schemahost_events")

        ids = {"quota_warning": self.emit("blog", "quota_warning", quota(850000)),
               "quota_over": self.emit("blog", "quota_over", quota(1020000)),
               "quota_ok": self.emit("blog", "quota_ok", quota(700000))}
        muted_id = self.emit("quiet", "quota_over", quota(2000000))
        nohook_id = self.emit("nohook", "suspended")

        notes = []
        def got_notes():
            if select.select([listener], [], [], 0.1)[0]:
                listener.poll()
                notes.extend(listener.notifies)
                listener.notifies.clear()
            return len(notes) >= 5
        self.wait(got_notes, 30, "five notifications")
        listener.close()
        docs = [json.loads(n.payload) for n in notes]
        self.assertEqual({n.channel for n in notes}, {"schemahost_events"})
        self.assertEqual([d["event_id"] for d in docs],
                         [ids["quota_warning"], ids["quota_over"], ids["quota_ok"], muted_id,
                          nohook_id])
        self.assertEqual(docs[1]["kind"], "quota_over")
        self.assertEqual(docs[1]["project"], "blog")
        self.assertEqual(docs[1]["payload"]["used_bytes"], 1020000)

        p = self.start_daemon()
        self.wait(lambda: self.all_delivered("blog") and self.all_delivered("nohook"), 60,
                 "all deliveries of blog and nohook")
        # Passes go on; one more event delivered proves several more passes
        # happened, and nothing was sent twice meanwhile.
        sentinel = self.emit("nohook", "resumed")
        self.wait(lambda: self.all_delivered("nohook") and len(self.statuses("nohook")) == 2, 60,
                 "the sentinel event")
        self.stop_daemon(p)

        # Email: one per transition, to the owner, Bcc the operator.
        mails = self.smtp.to("owner@blog.test")
        self.assertEqual(len(mails), 3, [m["Subject"] for m in mails])
        by_id = {m["X-Schemahost-Event-Id"]: m for m in mails}
        self.assertEqual(set(by_id), set(ids.values()))
        for kind, event_id in ids.items():
            m = by_id[event_id]
            self.assertEqual(m["Message-ID"], f"<{event_id}@schemahost.test>")
            self.assertEqual(m["To"].addresses[0].addr_spec, "owner@blog.test")
            self.assertIn(FROM, m["From"])
            self.assertIsNone(m["Bcc"])
            self.assertEqual(m["X-Schemahost-Event-Type"], kind)
        for _, rcpts, m in self.smtp.messages:
            if m["X-Schemahost-Project"] == "blog":
                self.assertEqual(sorted(rcpts), sorted(["owner@blog.test", OPERATOR]))
        self.assertTrue(all(self.smtp.authenticated), "SMTP AUTH was used")

        over = by_id[ids["quota_over"]]
        self.assertIn("over its storage quota", over["Subject"])
        body = over.get_content()
        self.assertIn("Project:  blog", body)
        self.assertIn("Usage:    996 kB (1020000 bytes)", body)
        self.assertIn("Quota:    977 kB (1000000 bytes)", body)
        self.assertIn("Percent:  102%", body)
        self.assertIn("SQLSTATE 53100", body)
        self.assertIn("WHERE n.nspname = 'blog'", body)
        self.assertIn("ORDER BY pg_total_relation_size(c.oid) DESC", body)
        self.assertIn(OPERATOR, body)
        warning = by_id[ids["quota_warning"]]
        self.assertIn("85%", warning["Subject"])
        self.assertIn("back under", by_id[ids["quota_ok"]]["Subject"])

        # The largest-tables query in the mail really runs.
        sql = body[body.index("SELECT c.relname"):body.index("LIMIT 20;") + len("LIMIT 20;")]
        self.psql("CREATE SCHEMA blog; CREATE TABLE blog.t AS SELECT generate_series(1, 1000) i;")
        self.assertIn("t|r", self.psql(sql).stdout)
        self.psql("DROP SCHEMA blog CASCADE")

        # Webhook: one per transition, signed.
        hooks = self.http.for_project("blog")
        self.assertEqual(len(hooks), 3)
        for _, headers, raw, doc in hooks:
            self.assertEqual(headers["X-Schemahost-Event-Id"], doc["id"])
            self.assertEqual(headers["Content-Type"], "application/json")
            sig = dict(part.split("=", 1) for part in headers["X-Schemahost-Signature"].split(","))
            expected = hmac.new(WEBHOOK_SECRET.encode(), sig["t"].encode() + b"." + raw,
                                hashlib.sha256).hexdigest()
            self.assertTrue(hmac.compare_digest(sig["v1"], expected))
            self.assertLess(abs(int(sig["t"]) - time.time()), 300)
        docs = {doc["type"]: doc for _, _, _, doc in hooks}
        self.assertEqual(set(docs), set(ids))
        self.assertEqual(docs["quota_over"]["id"], ids["quota_over"])
        self.assertEqual(docs["quota_over"]["used_bytes"], 1020000)
        self.assertEqual(docs["quota_over"]["quota_bytes"], 1000000)
        self.assertEqual(docs["quota_over"]["percent"], 102.0)
        self.assertEqual(docs["quota_over"]["project"], "blog")
        self.assertRegex(docs["quota_over"]["occurred_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")

        # Preferences: muted gets nothing, webhook opt-out gets mail only.
        self.assertEqual(self.smtp.to("quiet@owner.test"), [])
        self.assertEqual(self.http.for_project("quiet"), [])
        self.assertEqual(len(self.smtp.to("nohook@owner.test")), 2)
        self.assertEqual(self.http.for_project("nohook"), [])
        self.assertNotIn(muted_id, self.psql("SELECT string_agg(e.event_id::text, ',') FROM "
                                             "schemahost.delivery d JOIN schemahost.event e "
                                             "ON e.id = d.event").stdout)
        self.assertIn(sentinel, [m["X-Schemahost-Event-Id"] for m in self.smtp.to("nohook@owner.test")])

        # No secret in the logs.
        logs = self.all_logs()
        self.assertIn("alert delivered", logs)
        for secret in (SMTP_PASSWORD, WEBHOOK_SECRET):
            self.assertNotIn(secret, logs)


class CrashTest(AlertTestCase):
    def test_killed_between_sending_and_marking_resends_with_the_same_id(self):
        self.project("crashy", "crash@owner.test")
        self.project("calm", "calm@owner.test")
        state = {"killed_mail": 0, "killed_hook": 0, "proc": None}

        def kill_daemon(key):
            def rule():
                if state[key] == 0:
                    state[key] += 1
                    os.kill(state["proc"].pid, signal.SIGKILL)
                    state["proc"].wait()
            return rule

        # The peers accept the message, then the daemon dies before it can
        # record the delivery.
        self.smtp.rules["crash@owner.test"] = kill_daemon("killed_mail")
        self.http.rules["crashy"] = kill_daemon("killed_hook")
        over = self.emit("crashy", "quota_over", quota(1100000))
        calm = self.emit("calm", "quota_warning", quota(900000))

        for _ in range(4):  # at most one kill per peer, and a daemon that survives
            state["proc"] = self.start_daemon()
            if self.wait(lambda: state["proc"].poll() is not None or
                        (self.all_delivered("crashy") and self.all_delivered("calm")), 60,
                        "a kill or all deliveries") and state["proc"].poll() is None:
                break
        self.assertEqual(state["killed_mail"], 1)
        self.assertEqual(state["killed_hook"], 1)
        self.assertTrue(self.all_delivered("crashy") and self.all_delivered("calm"),
                        self.statuses())
        self.stop_daemon(state["proc"])

        # The first copy arrived before the kill, the resend after: same ids.
        mails = self.smtp.to("crash@owner.test")
        self.assertGreaterEqual(len(mails), 2)
        self.assertEqual({m["Message-ID"] for m in mails}, {f"<{over}@schemahost.test>"})
        self.assertEqual({m.get_content() for m in mails}.__len__(), 1, "the resend is the same message")
        hooks = self.http.for_project("crashy")
        self.assertGreaterEqual(len(hooks), 2)
        self.assertEqual({doc["id"] for _, _, _, doc in hooks}, {over})
        self.assertEqual({h["X-Schemahost-Event-Id"] for _, h, _, _ in hooks}, {over})
        # Nothing lost: the other project's alert arrived too, with its id.
        self.assertEqual([m["X-Schemahost-Event-Id"] for m in self.smtp.to("calm@owner.test")][-1:],
                         [calm])
        self.assertIn(calm, [doc["id"] for _, _, _, doc in self.http.for_project("calm")])


class FailingPeersTest(AlertTestCase):
    daemon_args = ("--max-attempts", "3", "--alert-retry-base", "0.3", "--alert-retry-max", "0.5",
                   "--webhook-timeout", "2", "--smtp-timeout", "2")

    def test_failing_and_hanging_peers_are_retried_then_failed_while_others_arrive(self):
        self.project("broken", "nobody@broken.test")
        self.project("stuck", "slow@stuck.test")
        self.project("fine", "owner@fine.test")
        self.smtp.rules["nobody@broken.test"] = "reject"
        self.http.rules["broken"] = 500
        self.smtp.rules["slow@stuck.test"] = "hang"
        self.http.rules["stuck"] = "hang"
        self.psql("BEGIN;"
                  "INSERT INTO schemahost.event (project, kind, payload) VALUES "
                  "('broken', 'quota_over', '{\"used_bytes\": 2000000, \"quota_bytes\": 1000000}'),"
                  "('stuck', 'quota_over', '{\"used_bytes\": 2000000, \"quota_bytes\": 1000000}'),"
                  "('fine', 'quota_over', '{\"used_bytes\": 2000000, \"quota_bytes\": 1000000}');"
                  "COMMIT;")
        p = self.start_daemon()
        self.wait(lambda: self.all_delivered("fine"), 60, "the healthy project's alerts")
        self.wait(lambda: all(s.endswith("=failed") for s in self.statuses("broken") +
                             self.statuses("stuck")), 120, "the broken and stuck deliveries to fail")
        self.stop_daemon(p)

        self.assertEqual(len(self.smtp.to("owner@fine.test")), 1)
        self.assertEqual(len(self.http.for_project("fine")), 1)
        # Each failing delivery was tried exactly --max-attempts times, with
        # growing pauses in between.
        hooks = [t for t, _, _, _ in self.http.for_project("broken")]
        self.assertEqual(len(hooks), 3)
        self.assertGreaterEqual(hooks[1] - hooks[0], 0.3)
        self.assertGreaterEqual(hooks[2] - hooks[1], 0.5)
        self.assertEqual(len([a for _, a in self.smtp.rcpt_seen if a == "nobody@broken.test"]), 3)
        self.assertEqual(len(self.http.for_project("stuck")), 3)

        failures = self.psql("SELECT project || '|' || channel || '|' || attempts || '|' || last_error "
                             "FROM alert_failures ORDER BY project, channel").stdout
        rows = [r.strip() for r in failures.splitlines() if r.strip()]
        self.assertEqual(len(rows), 4, failures)
        self.assertRegex(rows[0], r"^broken\|email\|3\|.*550")
        self.assertRegex(rows[1], r"^broken\|webhook\|3\|HTTP status 500$")
        self.assertRegex(rows[2], r"^stuck\|email\|3\|.*[Tt]imeout")
        self.assertRegex(rows[3], r"^stuck\|webhook\|3\|.*[Tt]imeout")


class HangingPeerTest(AlertTestCase):
    def test_a_hanging_peer_does_not_hold_up_other_projects(self):
        self.project("stuck", "slow@stuck.test")
        self.project("fine", "owner@fine.test")
        self.http.rules["stuck"] = "hang"
        self.psql("BEGIN;"
                  "INSERT INTO schemahost.event (project, kind) VALUES ('stuck', 'suspended');"
                  "INSERT INTO schemahost.event (project, kind) VALUES ('fine', 'suspended');"
                  "COMMIT;")
        # The hanging request is held until the healthy project's alerts have
        # arrived: the daemon must deliver them while it is still waiting.
        p = self.start_daemon("--webhook-timeout", "120")
        self.wait(self.http.hanging.is_set, 60, "the hanging request")
        self.wait(lambda: self.all_delivered("fine"), 60, "the healthy project's alerts")
        self.assertIn("suspended/webhook=pending", self.statuses("stuck"))
        self.assertEqual(len(self.http.for_project("fine")), 1)
        # Quota enforcement is not held up either: passes go on while the
        # request hangs (the daemon logs one line per full pass).
        self.psql("SELECT create_project_schema('other', storage_quota => '1 MB')")
        self.fill_past_quota("other")
        self.wait(lambda: self.psql("SELECT state FROM project_usage WHERE name = 'other'")
                  .stdout.strip() == "over", 60, "the over-quota state while a request hangs")
        self.assertFalse(self.http.released.is_set())

        # SIGTERM while the request hangs: it is aborted, the daemon exits at
        # once (well before the 120 s timeout) and the delivery stays pending.
        self.stop_daemon(p)
        self.assertIn("suspended/webhook=pending", self.statuses("stuck"))
        self.http.released.set()
        self.http.rules.pop("stuck")
        p = self.start_daemon()
        self.wait(lambda: self.all_delivered("stuck"), 60, "the stuck delivery after a restart")
        self.stop_daemon(p)
        ids = {doc["id"] for _, _, _, doc in self.http.for_project("stuck")}
        self.assertEqual(len(ids), 1, "the resend carries the same event id")


class RealTransitionsTest(AlertTestCase):
    """Events written by the real quota and lifecycle code, not by the test."""

    def test_every_transition_of_a_project_reaches_its_owner_once(self):
        owner = "owner@shop.test"
        self.psql("SELECT create_project_schema('shop', owner_email => 'owner@shop.test', "
                  "storage_quota => '1 MB')")
        p = self.start_daemon()

        def kinds():
            return [m["X-Schemahost-Event-Type"] for m in self.smtp.to(owner)]

        # Over quota: the daemon's own usage refresh writes the event.
        self.fill_past_quota("shop")
        self.wait(lambda: "quota_over" in kinds(), 60, "the over-quota email")
        over = [m for m in self.smtp.to(owner) if m["X-Schemahost-Event-Type"] == "quota_over"][0]
        body = over.get_content()
        self.assertIn("Project:  shop", body)
        self.assertIn("Quota:    1024 kB (1048576 bytes)", body)
        self.assertIn("WHERE n.nspname = 'shop'", body)

        self.psql("DROP TABLE big", user="shop")
        self.wait(lambda: "quota_ok" in kinds(), 60, "the back-under email")

        self.psql("SELECT suspend_project('shop')")
        self.psql("SELECT resume_project('shop')")
        self.psql("SELECT drop_project_schema('shop')")
        self.wait(lambda: "dropped" in kinds(), 60, "the drop email")
        dropped = [m for m in self.smtp.to(owner) if m["X-Schemahost-Event-Type"] == "dropped"][0]
        purge_after = self.psql("SELECT payload->>'purge_after' FROM schemahost.event "
                                "WHERE project = 'shop' AND kind = 'dropped'").stdout.strip()
        self.assertTrue(purge_after)
        self.assertIn(purge_after, dropped.get_content())

        # Purge removes the project row before writing its event: the owner
        # still hears about it.
        self.psql("SELECT drop_project_schema('shop', purge => true)")
        self.wait(lambda: "purged" in kinds(), 60, "the purge email")

        events = self.psql("SELECT kind FROM schemahost.event WHERE project = 'shop' "
                           "ORDER BY id").stdout.split()
        self.wait(lambda: self.all_delivered("shop") and
                  len(self.statuses("shop")) == 2 * len(events), 60, "every delivery")
        self.stop_daemon(p)
        self.assertEqual(sorted(kinds()), sorted(events))
        self.assertEqual(len(set(kinds())), len(kinds()), "each transition exactly once")
        for k in ("quota_over", "quota_ok", "suspended", "resumed", "dropped", "purged"):
            self.assertIn(k, events)
        hooks = sorted(doc["type"] for _, _, _, doc in self.http.for_project("shop"))
        self.assertEqual(hooks, sorted(events))


class OnceTest(AlertTestCase):
    def test_once_delivers_and_waits_for_its_requests(self):
        self.project("cron", "owner@cron.test")
        event_id = self.emit("cron", "quota_warning", quota(850000))
        p = self.start_daemon("--once")
        self.assertEqual(p.wait(timeout=120), 0, self.all_logs())
        # Everything was recorded before --once exited.
        self.assertEqual(self.statuses("cron"), ["quota_warning/email=delivered",
                                                 "quota_warning/webhook=delivered"])
        self.assertEqual([m["X-Schemahost-Event-Id"] for m in self.smtp.to("owner@cron.test")],
                         [event_id])
        self.assertEqual([doc["id"] for _, _, _, doc in self.http.for_project("cron")], [event_id])
