"""A throwaway PostgreSQL server for a test session or a benchmark, from the Debian server binaries (here,
beside the agency simulators, so that benchmarks need not import tests/).

initdb + pg_ctl in a temp dir, listening on 127.0.0.1 and a free port only,
UTF8 with the C.UTF-8 locale, fsync off (unless durable); run as the `postgres` user when we are
root (PostgreSQL refuses to run as root). Stopped by pid at the end of the session.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from demo.servers import free_port


def find_bindir() -> Path | None:
    """Where initdb and pg_ctl are, if anywhere."""
    env = os.environ.get("CASEBRIDGE_TEST_PG_BINDIR")
    candidates = [env] if env else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for c in candidates:
        if c and Path(c, "initdb").exists() and Path(c, "pg_ctl").exists():
            return Path(c)
    return None


class PostgresServer:
    """One PostgreSQL cluster for the whole test session."""

    def __init__(self, bindir: Path, *, durable: bool = False) -> None:
        self.bindir = bindir
        self.durable = durable  # fsync on, as in production (benchmarks); the tests run without it
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="casebridge-pg-"))
        self.data = self.root / "data"
        self.sockets = self.root / "run"
        self.user = "postgres" if os.geteuid() == 0 else None

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)

    def start(self) -> PostgresServer:
        """initdb and start; returns once the server accepts connections."""
        self.sockets.mkdir(parents=True)
        if self.user:
            shutil.chown(self.root, self.user)
            shutil.chown(self.sockets, self.user)
        self._run("initdb", "-D", str(self.data), "-E", "UTF8", "--locale=C.UTF-8", "-A", "trust",
                  "-U", "postgres", "--no-sync")
        return self.resume()

    def resume(self) -> PostgresServer:
        """Start the server on its data directory (again, after `halt`); returns once it accepts connections."""
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sockets} -c max_connections=200"
        if not self.durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(self.root / "log"), "-w",
                  "-t", "60", "start")
        return self

    def halt(self, mode: str = "immediate") -> None:
        """Stop the server and keep its data (load and fault runs): `immediate` is a crash, as a lost host or a
        killed process would be; the next start recovers from the write-ahead log."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    @property
    def pid(self) -> int | None:
        """The postmaster's pid."""
        pidfile = self.data / "postmaster.pid"
        return int(pidfile.read_text().split()[0]) if pidfile.exists() else None

    def url(self, database: str = "postgres") -> str:
        """An asyncpg URL for `database` on this server."""
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server we started (by its data dir, i.e. its pid) and remove its files."""
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop", check=False)
        finally:
            for _ in range(50):
                if not (self.data / "postmaster.pid").exists():
                    break
                time.sleep(0.1)
            shutil.rmtree(self.root, ignore_errors=True)
