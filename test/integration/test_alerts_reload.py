"""Secret rotation: on SIGHUP the real schemahostd reads --webhook-secret-file
and --smtp-password-file again, even though their paths did not change, and
keeps the previous secret when a file can no longer be read. The peers are
the loopback SMTP server and HTTP listener of test_alerts.py."""

import hashlib
import hmac
import json
import os
import signal

from test_alerts import SMTP_PASSWORD, SMTP_USER, WEBHOOK_SECRET, AlertTestCase, quota

WEBHOOK_SECRET_B = "whsec-rotated-B-do-not-log"
SMTP_PASSWORD_B = "smtp-rotated-B-do-not-log"


def signed_with(secret, headers, raw):
    """Whether the X-Schemahost-Signature header verifies with secret."""
    sig = dict(part.split("=", 1) for part in headers["X-Schemahost-Signature"].split(","))
    expected = hmac.new(secret.encode(), sig["t"].encode() + b"." + raw, hashlib.sha256).hexdigest()
    return hmac.compare_digest(sig["v1"], expected)


class SecretRotationTest(AlertTestCase):
    def log_lines(self, msg):
        out = []
        for line in self.all_logs().splitlines():
            try:
                doc = json.loads(line)
            except ValueError:
                continue
            if doc.get("msg") == msg:
                out.append(doc)
        return out

    def deliver(self, kind, secret, password, not_secret=None):
        """Emits an event of project rot; checks that its webhook request is
        signed with secret (and not with not_secret), then that its email was
        sent after SMTP AUTH with password and nothing else."""
        with self.smtp.lock:
            before = len(self.smtp.auth_attempts)
        n = len(self.statuses("rot"))
        event_id = self.emit("rot", kind, quota(1020000))

        def hooks():
            return [(headers, raw) for _, headers, raw, doc in self.http.for_project("rot")
                    if doc["id"] == event_id]
        headers, raw = self.wait(hooks, 60, f"the webhook request of {kind}")[0]
        self.assertIn("X-Schemahost-Signature", headers, f"{kind}: signed")
        self.assertTrue(signed_with(secret, headers, raw), f"{kind}: signed with the expected secret")
        if not_secret:
            self.assertFalse(signed_with(not_secret, headers, raw), f"{kind}: not the old secret")

        self.wait(lambda: len(self.statuses("rot")) == n + 2 and self.all_delivered("rot"), 60,
                  f"both deliveries of {kind}")
        self.assertEqual(len(hooks()), 1)
        mails = [m for m in self.smtp.to("owner@rot.test") if m["X-Schemahost-Event-Id"] == event_id]
        self.assertEqual(len(mails), 1)
        with self.smtp.lock:
            attempts = self.smtp.auth_attempts[before:]
        self.assertEqual(attempts, [(SMTP_USER, password, True)], f"{kind}: SMTP AUTH")

    def rotate(self, secret, password):
        """Rewrites both files in place; the SMTP server accepts only the new password."""
        with open(self.secretfile, "w") as f:
            f.write(secret + "\n")
        with open(self.pwfile, "w") as f:
            f.write(password + "\n")
        with self.smtp.lock:
            self.smtp.password = password

    def reload(self, n):
        """Sends SIGHUP and waits for the n-th reload to be done."""
        self.daemon_proc.send_signal(signal.SIGHUP)
        self.wait(lambda: len(self.log_lines("configuration reloaded")) >= n, 60,
                  f"reload number {n}")
        return self.log_lines("configuration reloaded")[n - 1]

    def test_sighup_reads_the_secret_files_again_and_keeps_the_old_secret_on_failure(self):
        self.project("rot", "owner@rot.test")
        self.daemon_proc = self.start_daemon("--log-format", "json")

        # Secret A, password A.
        self.deliver("quota_warning", WEBHOOK_SECRET, SMTP_PASSWORD, not_secret=WEBHOOK_SECRET_B)

        # Rotate both, then SIGHUP.
        self.rotate(WEBHOOK_SECRET_B, SMTP_PASSWORD_B)
        reloaded = self.reload(1)
        self.assertEqual(sorted(reloaded["secret_files_read"]),
                         ["--smtp-password-file", "--webhook-secret-file"])

        self.deliver("quota_over", WEBHOOK_SECRET_B, SMTP_PASSWORD_B, not_secret=WEBHOOK_SECRET)

        # The files break: one gone, one empty. The reload logs both, by
        # path, and the daemon goes on with secret B and password B instead
        # of sending unsigned or unauthenticated.
        os.remove(self.secretfile)
        with open(self.pwfile, "w") as f:
            f.write("\n")
        reloaded = self.reload(2)
        self.assertEqual(reloaded["secret_files_read"], [])
        kept = {l["option"]: l for l in self.log_lines("cannot read secret file; keeping the previous secret")}
        self.assertEqual(set(kept), {"--smtp-password-file", "--webhook-secret-file"})
        self.assertEqual(kept["--webhook-secret-file"]["file"], self.secretfile)
        self.assertEqual(kept["--webhook-secret-file"]["error"], "No such file or directory")
        self.assertEqual(kept["--webhook-secret-file"]["level"], "error")
        self.assertEqual(kept["--smtp-password-file"]["file"], self.pwfile)
        self.assertEqual(kept["--smtp-password-file"]["error"], "the file is empty")

        self.deliver("quota_ok", WEBHOOK_SECRET_B, SMTP_PASSWORD_B, not_secret=WEBHOOK_SECRET)

        # Fixed files are picked up by the next reload.
        self.rotate(WEBHOOK_SECRET, SMTP_PASSWORD)
        self.reload(3)
        self.deliver("suspended", WEBHOOK_SECRET, SMTP_PASSWORD, not_secret=WEBHOOK_SECRET_B)

        self.stop_daemon(self.daemon_proc)
        logs = self.all_logs()
        self.assertEqual(self.log_lines("configuration reload failed"), [])
        for secret in (WEBHOOK_SECRET, WEBHOOK_SECRET_B, SMTP_PASSWORD, SMTP_PASSWORD_B):
            self.assertNotIn(secret, logs)
