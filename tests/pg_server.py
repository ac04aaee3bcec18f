"""A real PostgreSQL server for the tests, started from Debian's package on loopback in a temporary folder.

``make test`` installs the package (``make postgresql``). The server runs as the ``postgres``
system user when the tests run as root (PostgreSQL refuses to run as root), else as the current
user; it listens on 127.0.0.1 only, on a free port, and asks for a password (scram) like a real
deployment, so the store's password handling is exercised.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PASSWORD = f"pg-{secrets.token_urlsafe(18)}"
USER = "tradepulse"
DATABASE = "tradepulse"


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise AssertionError(f"PostgreSQL's {name} is not installed: run `make postgresql` (Debian's postgresql package)")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PostgresServer:
    """``initdb`` + ``postgres`` in a temporary folder; :meth:`url` names a database with a password-protected role."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="tradepulse-pg-", dir="/tmp"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.process: subprocess.Popen | None = None
        self._as_root = os.geteuid() == 0

    def _run_as(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if self._as_root else []

    def start(self) -> PostgresServer:
        if self._as_root:
            shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)
        password_file = self.folder / "superuser.pw"
        password_file.write_text("bootstrap-" + secrets.token_hex(8))
        if self._as_root:
            shutil.chown(password_file, "postgres", "postgres")
        subprocess.run([*self._run_as(), _binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                        f"--pwfile={password_file}", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, timeout=120)
        (self.data / "postgresql.auto.conf").write_text(
            f"listen_addresses = '127.0.0.1'\nport = {self.port}\nunix_socket_directories = '{self.folder}'\n"
            "fsync = on\nmax_connections = 60\nshared_buffers = 32MB\n")
        log = open(self.folder / "server.log", "wb")  # noqa: SIM115 - the child writes to it
        self.process = subprocess.Popen([*self._run_as(), _binary("postgres"), "-D", str(self.data)], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    break
            except OSError:
                assert self.process.poll() is None, (self.folder / "server.log").read_text()
                time.sleep(0.1)
        bootstrap = password_file.read_text()
        env = {**os.environ, "PGPASSWORD": bootstrap}
        # The server accepts connections a moment after it listens; psql retries until it answers.
        for _ in range(100):
            done = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                                   "-v", "ON_ERROR_STOP=1", "-c", f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'",
                                   "-c", f"CREATE DATABASE {DATABASE} OWNER {USER}"],
                                  env=env, capture_output=True, text=True, timeout=30)
            if done.returncode == 0:
                return self
            time.sleep(0.1)
        raise AssertionError(f"cannot set up the test database: {done.stderr}")

    def url(self, journal: str | None = None) -> str:
        base = f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"
        return f"{base}?journal={journal}" if journal else base

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        shutil.rmtree(self.folder, ignore_errors=True)
