"""A real, throw-away PostgreSQL server for tests (initdb into a temp dir, trust auth, loopback only).

``initdb`` refuses to run as root, so under root the server binaries run as the ``postgres``
system user (or a ``salesplane-pg`` system user created on demand) through ``runuser``.

Developers can run one in the foreground with ``python -m salesplane_testing.postgres_server``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from salesplane_testing._util import LOOPBACK, ServiceStartError, format_diagnostics, free_port, slug, tail
from salesplane_testing.server_lifecycle import ThrowAwayServer, serve_in_foreground

if TYPE_CHECKING:
    import psycopg

SUPERUSER = "postgres"
FALLBACK_OS_USER = "salesplane-pg"
BINDIR_ENV = "SALESPLANE_PG_BINDIR"
DEBIAN_BIN_GLOB = "/usr/lib/postgresql/*/bin"
_SBIN_DIRS = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")
_DB_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$-]{0,62}$")

DEFAULT_SETTINGS: dict[str, str] = {
    "listen_addresses": LOOPBACK,
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


# For fault tests: with these on, a commit PostgreSQL acknowledged survives an immediate shutdown
# or a crash; with the fast defaults above it may not, for reasons outside the system under test.
DURABLE_SETTINGS: dict[str, str] = {
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
}


class PostgresEndpoint(Protocol):
    """What the ``postgres_server`` fixture yields: a :class:`PostgresServer` or :class:`ExternalPostgres`."""

    def url(self, dbname: str = "postgres") -> str: ...

    def create_database(self, name: str | None = None) -> str: ...

    def drop_database(self, name: str) -> None: ...


def unique_database_name(hint: str = "test") -> str:
    """A fresh, valid database name such as ``t_test_create_order_1a2b3c4d``."""
    return f"t_{slug(hint, 40)}_{uuid.uuid4().hex[:8]}"


def _check_db_name(name: str) -> None:
    if not _DB_NAME_RE.match(name):
        raise ValueError(f"unsupported database name {name!r} (letters, digits, _ $ -; at most 63 chars)")


class _Databases:
    """``create_database``/``drop_database`` on top of ``url()`` and a maintenance connection."""

    def url(self, dbname: str = "postgres") -> str:
        raise NotImplementedError

    def _connect_kwargs(self) -> dict[str, Any]:
        raise NotImplementedError

    def connect(self, dbname: str | None = None) -> psycopg.Connection[Any]:
        """An autocommit psycopg connection (maintenance DB unless ``dbname`` is given)."""
        import psycopg

        kwargs = self._connect_kwargs()
        if dbname is not None:
            kwargs["dbname"] = dbname
        return psycopg.connect(autocommit=True, connect_timeout=10, **kwargs)

    def create_database(self, name: str | None = None) -> str:
        """Create a new empty database (a unique name if none given); returns its SQLAlchemy URL."""
        from psycopg import sql

        name = name or unique_database_name()
        _check_db_name(name)
        with self.connect() as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop ``name`` if it exists, disconnecting any sessions still using it."""
        from psycopg import sql

        _check_db_name(name)
        with self.connect() as conn:
            force = sql.SQL(" WITH (FORCE)") if conn.info.server_version >= 130000 else sql.SQL("")
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}{}").format(sql.Identifier(name), force))


class ExternalPostgres(_Databases):
    """An already running server, given by its maintenance DB URL (``SALESPLANE_TEST_POSTGRES_URL``)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        self._url = make_url(url)
        if not self._url.drivername.startswith("postgresql"):
            raise ValueError(f"not a PostgreSQL URL: {self._url.render_as_string(hide_password=True)}")

    def url(self, dbname: str = "postgres") -> str:
        return self._url.set(drivername="postgresql+psycopg", database=dbname).render_as_string(
            hide_password=False
        )

    def _connect_kwargs(self) -> dict[str, Any]:
        u = self._url
        kwargs: dict[str, Any] = {"dbname": u.database or "postgres"}
        if u.host:
            kwargs["host"] = u.host
        if u.port:
            kwargs["port"] = u.port
        if u.username:
            kwargs["user"] = u.username
        if u.password:
            kwargs["password"] = u.password
        for key, value in u.query.items():
            kwargs[key] = value if isinstance(value, str) else value[-1]
        return kwargs

    def __repr__(self) -> str:
        return f"ExternalPostgres({self._url.render_as_string(hide_password=True)!r})"


# --------------------------------------------------------------------------- binaries / OS user


@dataclass(frozen=True)
class PgBinaries:
    initdb: str
    pg_ctl: str
    postgres: str


def find_pg_binaries() -> PgBinaries:
    """``initdb``/``pg_ctl``/``postgres``: ``$SALESPLANE_PG_BINDIR``, else PATH, else newest Debian bindir."""
    names = ("initdb", "pg_ctl", "postgres")

    def from_dir(directory: Path) -> PgBinaries | None:
        paths = [directory / n for n in names]
        if all(os.access(p, os.X_OK) for p in paths):
            return PgBinaries(*(str(p) for p in paths))
        return None

    env = os.environ.get(BINDIR_ENV, "").strip()
    if env:
        found = from_dir(Path(env))
        if found is None:
            raise ServiceStartError(f"{BINDIR_ENV}={env!r} lacks one of {', '.join(names)}")
        return found
    initdb = shutil.which("initdb")
    if initdb is not None:
        # Prefer the siblings of the real initdb so all three come from the same major version.
        found = from_dir(Path(initdb).resolve().parent)
        if found is not None:
            return found
        others = [shutil.which(n) for n in names[1:]]
        if all(others):
            return PgBinaries(initdb, *(str(o) for o in others))

    def major(directory: Path) -> tuple[int, ...]:
        digits = re.findall(r"\d+", directory.parent.name)
        return tuple(int(d) for d in digits) or (0,)

    root = Path(DEBIAN_BIN_GLOB.split("*")[0])
    candidates = sorted((d for d in root.glob("*/bin") if d.is_dir()), key=major, reverse=True)
    for directory in candidates:
        found = from_dir(directory)
        if found is not None:
            return found
    raise ServiceStartError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH nor in "
        f"{DEBIAN_BIN_GLOB}; install the server (Debian: apt-get install postgresql) or set {BINDIR_ENV}"
    )


def _find_runuser() -> str:
    found = shutil.which("runuser")
    if found:
        return found
    for directory in _SBIN_DIRS:
        candidate = Path(directory) / "runuser"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    raise ServiceStartError("running as root but 'runuser' (util-linux) is not available")


def server_os_user() -> str | None:
    """The OS user to run the server as: ``None`` (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", FALLBACK_OS_USER):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    useradd = shutil.which("useradd") or next(
        (str(Path(d) / "useradd") for d in _SBIN_DIRS if os.access(Path(d) / "useradd", os.X_OK)), None
    )
    if useradd is None:
        raise ServiceStartError(
            f"running as root, no 'postgres' user and no 'useradd' to create {FALLBACK_OS_USER}"
        )
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", FALLBACK_OS_USER],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode not in (0, 9):  # 9: already exists (created concurrently)
        raise ServiceStartError(
            f"useradd {FALLBACK_OS_USER} failed ({proc.returncode}): {proc.stderr.strip()}"
        )
    return FALLBACK_OS_USER


def _conf_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# --------------------------------------------------------------------------- server


class PostgresServer(_Databases, ThrowAwayServer):
    """A throw-away PostgreSQL cluster on ``127.0.0.1:<free port>``, superuser ``postgres``, trust auth.

    Usage::

        with PostgresServer() as pg:
            engine = sqlalchemy.create_engine(pg.create_database("orders"))
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        settings: Mapping[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self._requested_port = port
        self.settings = {**DEFAULT_SETTINGS, **(settings or {})}
        self.startup_timeout = startup_timeout
        self._port: int | None = None
        self._tmp: Path | None = None
        self._bins: PgBinaries | None = None
        self._os_user: str | None = None
        self._started = False
        self.startup_seconds: float | None = None

    # ----------------------------------------------------------------- public API

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._port is None or not self._started:
            raise RuntimeError("PostgresServer is not started")
        return self._port

    @property
    def temp_dir(self) -> Path | None:
        return self._tmp

    @property
    def data_dir(self) -> Path | None:
        return self._tmp / "data" if self._tmp is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._tmp / "server.log" if self._tmp is not None else None

    @property
    def pid(self) -> int | None:
        """The postmaster's pid (from ``postmaster.pid``), if running."""
        if self.data_dir is None:
            return None
        try:
            return int((self.data_dir / "postmaster.pid").read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None

    @property
    def running(self) -> bool:
        pid = self.pid
        if pid is None:
            return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def url(self, dbname: str = "postgres") -> str:
        """SQLAlchemy URL, e.g. ``postgresql+psycopg://postgres@127.0.0.1:54321/postgres``."""
        return f"postgresql+psycopg://{SUPERUSER}@{LOOPBACK}:{self.port}/{dbname}"

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def _start(self) -> None:
        """initdb + start + wait until it accepts connections. Raises :class:`ServiceStartError`."""
        if self._started:
            raise RuntimeError("PostgresServer already started")
        self._bins = find_pg_binaries()
        self._os_user = server_os_user()
        try:
            self._init_cluster()
            attempts = 1 if self._requested_port is not None else 3
            for attempt in range(1, attempts + 1):
                try:
                    self._start_server()
                    break
                except ServiceStartError as exc:
                    if attempt < attempts and "could not bind" in str(exc).lower():
                        continue  # port taken between picking and binding; try another
                    raise
        except BaseException:
            self._cleanup()
            raise

    # ----------------------------------------------------------------- faults

    def restart(self, mode: str = "fast") -> float:
        """``pg_ctl restart -m fast|immediate`` on the same data and port: ``fast`` ends sessions
        cleanly, ``immediate`` aborts without a checkpoint (crash recovery on start). Returns the
        seconds until it accepted connections again."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        assert self._bins is not None and self._tmp is not None
        began = time.monotonic()
        self._run(
            f"pg_ctl restart -m {mode}",
            [
                self._bins.pg_ctl,
                "-D",
                str(self._tmp / "data"),
                "-l",
                str(self.log_path),
                "-m",
                mode,
                "-w",
                "-t",
                str(int(self.startup_timeout)),
                "-s",
                "restart",
            ],
            timeout=self.startup_timeout + 15,
        )
        return time.monotonic() - began

    def terminate_backends(self, dbname: str) -> int:
        """``pg_terminate_backend`` every session on ``dbname`` (as an administrator killing
        connections, or a failover proxy dropping them); returns how many were ended."""
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (dbname,),
            ).fetchall()
        return sum(1 for (ended,) in rows if ended)

    def _stop(self) -> None:
        """``pg_ctl stop -m fast`` (SIGKILL if that fails), then delete the temp dir."""
        self._cleanup()

    def __repr__(self) -> str:
        where = f"{LOOPBACK}:{self._port}" if self._started else "not started"
        return f"PostgresServer({where})"

    # ----------------------------------------------------------------- internals

    def _connect_kwargs(self) -> dict[str, Any]:
        return {"host": LOOPBACK, "port": self.port, "user": SUPERUSER, "dbname": "postgres"}

    def _as_server_user(self, cmd: Sequence[str]) -> list[str]:
        if self._os_user is None:
            return list(cmd)
        return [_find_runuser(), "-u", self._os_user, "--", *cmd]

    def _run(self, what: str, cmd: Sequence[str], timeout: float) -> subprocess.CompletedProcess[str]:
        full = self._as_server_user(cmd)
        try:
            proc = subprocess.run(
                full,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=self._tmp,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ServiceStartError(
                self._diagnostics(f"{what} timed out after {timeout:.0f} s", full)
            ) from exc
        if proc.returncode != 0:
            raise ServiceStartError(
                self._diagnostics(
                    f"{what} failed (exit code {proc.returncode})", full, proc.stdout, proc.stderr
                )
            )
        return proc

    def _diagnostics(self, title: str, cmd: Sequence[str], stdout: str = "", stderr: str = "") -> str:
        sections = {"command": " ".join(cmd)}
        if stdout.strip():
            sections["stdout"] = stdout[-4000:]
        if stderr.strip():
            sections["stderr"] = stderr[-4000:]
        sections[f"server log tail ({self.log_path})"] = self.log_tail(60)
        if self._os_user is not None:
            sections["note"] = (
                f"the server runs as OS user {self._os_user!r}; it must be able to reach "
                f"{tempfile.gettempdir()} (set TMPDIR to a world-accessible directory otherwise)"
            )
        return format_diagnostics(f"PostgreSQL: {title}", sections)

    def _init_cluster(self) -> None:
        assert self._bins is not None
        tmp = Path(tempfile.mkdtemp(prefix="salesplane-pg-"))
        self._tmp = tmp
        (tmp / "socket").mkdir()
        if self._os_user is not None:
            entry = pwd.getpwnam(self._os_user)
            for path in (tmp, tmp / "socket"):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(
            "initdb",
            [
                self._bins.initdb,
                "-D",
                str(tmp / "data"),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
            timeout=120,
        )

    def _start_server(self) -> None:
        assert self._bins is not None and self._tmp is not None
        self._port = self._requested_port or free_port()
        settings = {
            **self.settings,
            "port": str(self._port),
            "unix_socket_directories": str(self._tmp / "socket"),
        }
        conf = self._tmp / "data" / "postgresql.conf"
        with conf.open("a") as fh:  # later lines win, so a retry can simply append a new port
            fh.write("\n# salesplane-testing\n")
            fh.writelines(f"{key} = {_conf_value(value)}\n" for key, value in settings.items())
        self._run(
            "pg_ctl start",
            [
                self._bins.pg_ctl,
                "-D",
                str(self._tmp / "data"),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                str(int(self.startup_timeout)),
                "-s",
                "start",
            ],
            timeout=self.startup_timeout + 15,
        )
        self._started = True
        try:
            with self.connect() as conn:
                conn.execute("SELECT 1")
        except Exception as exc:
            raise ServiceStartError(
                self._diagnostics(f"server started but a connection to {self.url()} failed: {exc!r}", [])
            ) from exc

    def _cleanup(self) -> None:
        tmp, self._tmp = self._tmp, None
        if tmp is not None and self._bins is not None and (tmp / "data" / "postmaster.pid").exists():
            pid_file = tmp / "data" / "postmaster.pid"
            stop = self._as_server_user(
                [self._bins.pg_ctl, "-D", str(tmp / "data"), "-m", "fast", "-w", "-t", "30", "-s", "stop"]
            )
            try:
                stopped = (
                    subprocess.run(
                        stop, stdin=subprocess.DEVNULL, capture_output=True, cwd=tmp, timeout=45, check=False
                    ).returncode
                    == 0
                )
            except subprocess.TimeoutExpired:
                stopped = False
            if not stopped:
                with contextlib.suppress(OSError, ValueError):
                    pid = int(pid_file.read_text().split("\n", 1)[0])
                    os.kill(pid, signal.SIGKILL)
                    time.sleep(0.2)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        self._started = False
        self._port = None


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m salesplane_testing.postgres_server",
        description="Run a throw-away PostgreSQL server in the foreground (Ctrl-C stops it).",
    )
    parser.add_argument("--port", type=int, default=None, help="port (default: a free one)")
    args = parser.parse_args(argv)

    server = PostgresServer(port=args.port)
    return serve_in_foreground(
        server,
        address=server.url,
        describe=lambda: (
            f"PostgreSQL ready in {server.startup_seconds:.1f} s"
            f" (data {server.data_dir}, log {server.log_path})"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
