#!/usr/bin/python3
"""Throwaway PostgreSQL 15 clusters for tests and for `make run`.

Never touches the system cluster: every cluster here gets its own data
directory, a private socket directory and a free localhost port. PostgreSQL
refuses to run as root, so when we are root the server runs as the unprivileged
OS user `postgres` (created if missing).

Used as a library by the integration tests (test/integration/harness.py) and
as a command:

  pgcluster.py exec [--no-preload] [--conf K=V ...] -- CMD ARGS...
      start a cluster in a temp dir, run CMD with PGHOST/PGPORT/PGUSER/
      PGDATABASE pointing at it, then stop it and remove it, even on failure.
  pgcluster.py up --dir DIR      start (or reuse) a persistent cluster in DIR
  pgcluster.py down --dir DIR    stop it
  pgcluster.py env --dir DIR     print shell exports for it
"""

import argparse
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

SERVER_USER = "postgres"


def bindir():
    return subprocess.check_output(["pg_config", "--bindir"], text=True).strip()


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ensure_server_user():
    """Returns the OS user the server runs as, creating `postgres` if needed."""
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.check_call(["useradd", "--system", "--user-group", "--home-dir",
                               "/var/lib/postgresql", "--shell", "/bin/bash", SERVER_USER])
    return SERVER_USER


def as_server(cmd, **kw):
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", SERVER_USER, "--"] + cmd
    return subprocess.run(cmd, **kw)


def check_traversable(path, user):
    """The server user must reach the data directory through every parent."""
    if os.geteuid() != 0:
        return
    probe = as_server(["test", "-x", path], capture_output=True)
    if probe.returncode != 0:
        sys.exit(f"pgcluster: OS user '{user}' cannot reach {path}; "
                 f"move the checkout somewhere every user can traverse (e.g. /srv or /tmp), "
                 f"or run as an unprivileged user")


class Cluster:
    def __init__(self, root, port=None, preload=True, conf=None):
        self.root = os.path.abspath(root)
        self.data = os.path.join(self.root, "data")
        self.sock = os.path.join(self.root, "sock")
        self.log = os.path.join(self.root, "postgres.log")
        self.meta = os.path.join(self.root, "cluster.json")
        self.port = port
        self.preload = preload
        self.conf = conf or {}
        self.bin = bindir()

    # -- lifecycle ---------------------------------------------------------
    def exists(self):
        return os.path.exists(os.path.join(self.data, "PG_VERSION"))

    def init(self):
        user = ensure_server_user()
        os.makedirs(self.root, exist_ok=True)
        os.makedirs(self.sock, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, user)
            shutil.chown(self.sock, user)
        check_traversable(self.root, user)
        if self.port is None:
            self.port = free_port()
        r = as_server([os.path.join(self.bin, "initdb"), "-D", self.data, "-U", "postgres",
                       "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync",
                       "-E", "UTF8", "--locale=C.UTF-8"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            raise RuntimeError("initdb failed")
        lines = [
            "# written by scripts/pgcluster.py",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.sock}'",
            "listen_addresses = '127.0.0.1'",
            "max_connections = 100",
            "fsync = off",
            "synchronous_commit = off",
            "full_page_writes = off",
            "log_line_prefix = '%m [%p] %q%u@%d '",
            "password_encryption = 'scram-sha-256'",
        ]
        if self.preload:
            lines.append("shared_preload_libraries = 'schemahost'")
        for k, v in self.conf.items():
            lines.append(f"{k} = {v}")
        conf_path = os.path.join(self.data, "postgresql.auto.conf")
        as_server(["sh", "-c", f"cat >> '{conf_path}'"], input="\n".join(lines) + "\n",
                  text=True, check=True)
        with open(self.meta, "w") as f:
            json.dump({"port": self.port, "preload": self.preload}, f)

    def load_meta(self):
        with open(self.meta) as f:
            m = json.load(f)
        self.port = m["port"]
        self.preload = m["preload"]

    def running(self):
        r = as_server([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "status"],
                      capture_output=True)
        return r.returncode == 0

    def start(self):
        r = as_server([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-l", self.log,
                       "-w", "-t", "60", "start"], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            try:
                with open(self.log) as f:
                    sys.stderr.write(f.read()[-4000:])
            except OSError:
                pass
            raise RuntimeError("pg_ctl start failed")

    def stop(self, mode="fast"):
        as_server([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", mode, "-w",
                   "-t", "60", "stop"], capture_output=True)

    def restart(self):
        self.stop()
        self.start()

    def remove(self):
        shutil.rmtree(self.root, ignore_errors=True)

    # -- clients -----------------------------------------------------------
    def env(self, user="postgres", dbname="postgres"):
        e = dict(os.environ)
        e.update({"PGHOST": self.sock, "PGPORT": str(self.port), "PGUSER": user,
                  "PGDATABASE": dbname, "SCHEMAHOST_TEST_CLUSTER": self.root})
        return e

    def dsn(self, user="postgres", dbname="postgres"):
        return f"host={self.sock} port={self.port} user={user} dbname={dbname}"

    def psql(self, sql, user="postgres", dbname="postgres", check=True):
        r = subprocess.run([os.path.join(self.bin, "psql"), "-X", "-q", "-At", "-v",
                            "ON_ERROR_STOP=1", "-c", sql], env=self.env(user, dbname),
                           capture_output=True, text=True)
        if check and r.returncode != 0:
            raise RuntimeError(f"psql failed: {r.stderr.strip()}")
        return r


def cmd_exec(args):
    root = tempfile.mkdtemp(prefix="schemahost-test-")
    os.chmod(root, 0o755)
    conf = dict(kv.split("=", 1) for kv in args.conf)
    cluster = Cluster(root, preload=not args.no_preload, conf=conf)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    rc = 1
    try:
        cluster.init()
        cluster.start()
        cmd = args.cmd[1:] if args.cmd and args.cmd[0] == "--" else args.cmd
        rc = subprocess.call(cmd, env=cluster.env())
    except KeyboardInterrupt:
        rc = 130
    finally:
        if cluster.exists():
            if rc != 0 and os.path.exists(cluster.log):
                sys.stderr.write("---- last lines of the server log ----\n")
                with open(cluster.log) as f:
                    sys.stderr.write("".join(f.readlines()[-30:]))
            cluster.stop("immediate")
        cluster.remove()
    return rc


def cmd_up(args):
    cluster = Cluster(args.dir, port=args.port)
    if cluster.exists():
        cluster.load_meta()
    else:
        cluster.init()
    if not cluster.running():
        cluster.start()
    print(f"PostgreSQL running: data {cluster.data}, socket {cluster.sock}, port {cluster.port}")
    return 0


def cmd_down(args):
    cluster = Cluster(args.dir)
    if cluster.exists() and os.path.exists(cluster.meta):
        cluster.load_meta()
        if cluster.running():
            cluster.stop()
            print("PostgreSQL stopped")
    return 0


def cmd_restart(args):
    # For a suite that checks what survives a restart: the cluster of an
    # `exec` run is in $SCHEMAHOST_TEST_CLUSTER.
    cluster = Cluster(args.dir)
    cluster.load_meta()
    cluster.restart()
    return 0


def cmd_env(args):
    cluster = Cluster(args.dir)
    cluster.load_meta()
    print(f"export PGHOST='{cluster.sock}' PGPORT={cluster.port} PGUSER=postgres PGDATABASE=postgres")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    e = sub.add_parser("exec")
    e.add_argument("--no-preload", action="store_true")
    e.add_argument("--conf", action="append", default=[])
    e.add_argument("cmd", nargs=argparse.REMAINDER)
    for name in ("up", "down", "env", "restart"):
        s = sub.add_parser(name)
        s.add_argument("--dir", required=True)
        if name == "up":
            s.add_argument("--port", type=int)
    args = p.parse_args()
    return {"exec": cmd_exec, "up": cmd_up, "down": cmd_down, "env": cmd_env,
            "restart": cmd_restart}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
