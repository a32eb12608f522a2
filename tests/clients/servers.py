"""Real servers the cluster tests run against, each on 127.0.0.1 and stopped by the test that started it.

* ``PostgresServer``: a private PostgreSQL cluster (Debian's binaries, initdb into a temporary directory,
  run as the ``postgres`` user when the tests run as root), or the server named by
  ``$WEFT_TEST_POSTGRES_URL`` when the test command started one for the whole run. ``database()`` gives each
  test an empty database of its own.
* ``S3Server``: s3s-fs (installed by ``scripts/setup-test-deps.sh``) serving a directory as S3.
* ``TcpProxy``: a TCP forwarder that can be cut and healed, to partition an agent from PostgreSQL.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path
from typing import Optional
from urllib.parse import urlsplit, urlunsplit

S3_ACCESS_KEY = "weft-test-key"
S3_SECRET_KEY = "weft-test-secret-do-not-log"


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(n: int) -> list:
    """n distinct free ports. Every socket stays bound until all are chosen: two separate
    free_port() calls can be handed the same port by the kernel once the first socket closes."""
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise TimeoutError(f"timed out after {timeout}s waiting for {what}")


def _pg_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        return candidate
    raise FileNotFoundError(f"{name} not found: scripts/setup-test-deps.sh installs Debian's postgresql")


class PostgresServer:
    """One PostgreSQL server; ``owned`` when this object started it (and may restart or stop it)."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.data = self.workdir / "pgdata"
        self.sock = self.workdir / "pgsock"
        self.port = 0
        self.owned = False
        self.admin_url: Optional[str] = None

    def _as_postgres(self) -> dict:
        if os.geteuid() != 0:
            return {}
        pw = pwd.getpwnam("postgres")

        def demote():
            os.setgid(pw.pw_gid)
            os.setuid(pw.pw_uid)

        return {"preexec_fn": demote}

    def start(self) -> "PostgresServer":
        shared = os.environ.get("WEFT_TEST_POSTGRES_URL")
        if shared:
            self.admin_url = shared
            return self
        self.owned = True
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.sock.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            for p in (self.workdir, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)
            # initdb must be able to reach the directory through every parent.
            for parent in self.workdir.parents:
                if str(parent).startswith("/tmp"):
                    os.chmod(parent, os.stat(parent).st_mode | 0o011)
        subprocess.run([_pg_bin("initdb"), "-A", "trust", "-U", "weft", "-D", str(self.data), "--no-sync"],
                       check=True, capture_output=True, **self._as_postgres())
        self.port = free_port()
        self._pg_ctl_start()
        self.admin_url = f"postgres://weft@127.0.0.1:{self.port}/postgres"
        return self

    def _pg_ctl_start(self):
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock} -c max_connections=300"
        subprocess.run([_pg_bin("pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                        str(self.workdir / "postgres.log"), "-w", "-t", "60", "start"],
                       check=True, capture_output=True, **self._as_postgres())
        _wait(lambda: listening(self.port), 30, "postgres to listen")

    def stop(self, mode: str = "fast"):
        if self.owned and self.data.exists():
            subprocess.run([_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                           capture_output=True, **self._as_postgres())

    def restart(self, down_for: float = 0.0):
        """Stops the server (fast: clients are disconnected), waits, and starts it again on the same port."""
        assert self.owned, "only a server this test started can be restarted"
        self.stop()
        time.sleep(down_for)
        self._pg_ctl_start()

    def psql(self, sql: str, db: str = "postgres") -> str:
        url = self._url_for(db)
        out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-Atc", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout

    def _url_for(self, db: str) -> str:
        parts = urlsplit(self.admin_url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + db, parts.query, ""))

    def database(self) -> str:
        """A new empty database; returns its URL."""
        name = "weft_" + uuid.uuid4().hex[:12]
        self.psql(f"CREATE DATABASE {name}")
        return self._url_for(name)


class S3Server:
    """s3s-fs on 127.0.0.1 serving ``root``, with one bucket ``weft``."""

    def __init__(self, workdir: Path):
        self.workdir = Path(workdir)
        self.root = self.workdir / "s3root"
        self.bucket_dir = self.root / "weft"
        self.port = 0
        self.proc: Optional[subprocess.Popen] = None
        self._log = None

    @staticmethod
    def binary() -> str:
        found = shutil.which("s3s-fs") or os.path.expanduser("~/.cargo/bin/s3s-fs")
        if not os.access(found, os.X_OK):
            raise FileNotFoundError("s3s-fs is missing: scripts/setup-test-deps.sh installs it")
        return found

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, prefix: str) -> str:
        """An ``--object-store`` URL for ``prefix`` in the bucket, credentials in the query."""
        return (f"s3://weft/{prefix}?endpoint={self.endpoint}&region=us-east-1"
                f"&access_key_id={S3_ACCESS_KEY}&secret_access_key={S3_SECRET_KEY}")

    def start(self) -> "S3Server":
        self.bucket_dir.mkdir(parents=True, exist_ok=True)
        if not self.port:
            self.port = free_port()
        self._log = open(self.workdir / "s3s.log", "ab")
        self.proc = subprocess.Popen(
            [self.binary(), "--host", "127.0.0.1", "--port", str(self.port),
             "--access-key", S3_ACCESS_KEY, "--secret-key", S3_SECRET_KEY, str(self.root)],
            stdout=self._log, stderr=subprocess.STDOUT)
        _wait(lambda: listening(self.port), 20, "s3s-fs to listen")
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to ``target_port``. ``cut()`` drops every connection and blackholes new
    ones (accepted, never answered) until ``heal()``, as a network partition would."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self._cut = threading.Event()
        self._closed = threading.Event()
        self._conns: list = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(client)
            if self._cut.is_set():
                continue  # blackholed: held open, never forwarded
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns.append(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while not self._cut.is_set():
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self):
        self._cut.set()
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def heal(self):
        self._cut.clear()

    def close(self):
        self._closed.set()
        self.cut()
        self.listener.close()
