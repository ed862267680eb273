"""A real single-node Apache Kafka broker (KRaft, combined broker+controller) for tests.

The broker runs from the jars that ``tools/kafka/pom.xml`` pulls from Maven Central; they are
fetched once with ``mvn dependency:copy-dependencies`` into
``${XDG_CACHE_HOME:-~/.cache}/salesplane/kafka-<version>/libs``.

Developers can run one in the foreground with ``python -m salesplane_testing.kafka_broker``.

Environment:

* ``SALESPLANE_KAFKA_POM`` - use this pom instead of looking for ``tools/kafka/pom.xml``.
* ``SALESPLANE_KAFKA_CDS`` - ``0`` disables the JVM class-data-sharing archive kept next to the jars;
  ``1`` creates it even under CI (by default it is only created outside CI, and used when present).
* ``JAVA_HOME`` - which Java to run (else ``java`` on PATH); Kafka 4 needs Java 17+.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from xml.sax.saxutils import quoteattr

from salesplane_testing._util import (
    LOOPBACK,
    ServiceStartError,
    file_lock,
    format_diagnostics,
    free_ports,
    is_ci,
    matching_lines,
    parent_death_signal,
    tail,
    terminate_process_group,
)
from salesplane_testing.server_lifecycle import ThrowAwayServer, serve_in_foreground

if TYPE_CHECKING:
    from kafka import KafkaAdminClient

POM_ENV = "SALESPLANE_KAFKA_POM"
CDS_ENV = "SALESPLANE_KAFKA_CDS"
POM_RELATIVE = Path("tools", "kafka", "pom.xml")
READY_LINE = "Kafka Server started"
JARS_MARKER = ".salesplane-complete"
_MAVEN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_MVN_TIMEOUT_S = 1800.0


class KafkaEndpoint(Protocol):
    """What the ``kafka_broker`` fixture yields: a started :class:`KafkaBroker` or :class:`ExternalKafka`."""

    @property
    def bootstrap_servers(self) -> str: ...

    def admin(self) -> KafkaAdminClient: ...

    def create_topic(
        self,
        name: str,
        partitions: int = 3,
        *,
        replication_factor: int = 1,
        configs: Mapping[str, str] | None = None,
        exist_ok: bool = False,
    ) -> str: ...


# --------------------------------------------------------------------------- jars / cache


def find_pom(start: Path | None = None) -> Path:
    """Find ``tools/kafka/pom.xml``: ``$SALESPLANE_KAFKA_POM``, else walk up from this file, then from cwd."""
    env = os.environ.get(POM_ENV, "").strip()
    if env:
        pom = Path(env).expanduser().resolve()
        if not pom.is_file():
            raise ServiceStartError(f"{POM_ENV}={env!r} does not name an existing file")
        return pom
    starts = [start] if start is not None else [Path(__file__).resolve().parent, Path.cwd().resolve()]
    for origin in starts:
        for directory in (origin, *origin.parents):
            candidate = directory / POM_RELATIVE
            if candidate.is_file():
                return candidate
    raise ServiceStartError(
        f"cannot find {POM_RELATIVE} above {', '.join(str(s) for s in starts)}; "
        f"run from the Salesplane repository or set {POM_ENV}"
    )


def read_kafka_version(pom: Path) -> str:
    """The ``kafka.version`` property of the pom."""
    root = ET.parse(pom).getroot()
    node = root.find("m:properties/m:kafka.version", _MAVEN_NS)
    if node is None:
        node = root.find("properties/kafka.version")
    if node is None or not (node.text or "").strip():
        raise ServiceStartError(f"{pom} has no <properties><kafka.version>")
    return (node.text or "").strip()


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/salesplane``."""
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(base) if base else Path.home() / ".cache") / "salesplane"


def libs_dir_for(version: str) -> Path:
    return cache_root() / f"kafka-{version}" / "libs"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _jars_ready(libs: Path, digest: str) -> bool:
    marker = libs / JARS_MARKER
    try:
        return marker.read_text().strip() == digest and any(libs.glob("kafka_*.jar"))
    except OSError:
        return False


def ensure_jars(pom: Path | None = None) -> Path:
    """Make sure the broker's jars are in the cache (running Maven if needed); returns the libs directory.

    A marker holding the pom's SHA-256 is written after a successful copy, so editing the pom
    (e.g. bumping log4j) refreshes the cache. Concurrent callers are serialised with a file lock.
    """
    pom = pom or find_pom()
    version = read_kafka_version(pom)
    libs = libs_dir_for(version)
    digest = _pom_digest(pom)
    if _jars_ready(libs, digest):
        return libs
    with file_lock(libs.parent / ".lock"):
        if _jars_ready(libs, digest):
            return libs
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceStartError(
                "Maven ('mvn') is not on PATH; it is needed once to fetch the Kafka jars "
                f"for {pom} (Debian: apt-get install maven)"
            )
        staging = Path(tempfile.mkdtemp(prefix="libs.tmp-", dir=libs.parent))
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={staging}",
        ]
        try:
            proc = subprocess.run(
                cmd,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                cwd=pom.parent,
                timeout=_MVN_TIMEOUT_S,
                check=False,
            )
            if proc.returncode != 0 or not any(staging.glob("kafka_*.jar")):
                raise ServiceStartError(
                    format_diagnostics(
                        f"fetching Kafka {version} jars with Maven failed (exit code {proc.returncode})",
                        {
                            "command": " ".join(cmd),
                            "mvn stdout (tail)": "\n".join(proc.stdout.splitlines()[-60:]),
                            "mvn stderr (tail)": "\n".join(proc.stderr.splitlines()[-60:]),
                        },
                    )
                )
            (staging / JARS_MARKER).write_text(digest + "\n")
            if libs.exists():
                shutil.rmtree(libs)
            staging.rename(libs)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return libs


# --------------------------------------------------------------------------- helpers


def random_cluster_id() -> str:
    """A Kafka cluster id, same format as ``kafka-storage random-uuid`` (url-safe base64 of a v4 UUID).

    Generated in Python to save a JVM start (~0.7 s).
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        if not text.startswith("-"):
            return text


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME", "").strip()
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    java = shutil.which("java")
    if java is None:
        raise ServiceStartError(
            "no 'java' on PATH (nor in $JAVA_HOME/bin); Kafka 4 needs Java 17+ "
            "(Debian: apt-get install openjdk-17-jre-headless)"
        )
    return java


class _TopicAdmin:
    """``admin()``/``create_topic()`` on top of a ``bootstrap_servers`` property."""

    @property
    def bootstrap_servers(self) -> str:
        raise NotImplementedError

    def admin(self, **config: Any) -> KafkaAdminClient:
        """A new kafka-python admin client for this broker (close it when done)."""
        from kafka import KafkaAdminClient

        config.setdefault("request_timeout_ms", 30000)
        config.setdefault("client_id", "salesplane-testing")
        return KafkaAdminClient(bootstrap_servers=self.bootstrap_servers, **config)

    def create_topic(
        self,
        name: str,
        partitions: int = 3,
        *,
        replication_factor: int = 1,
        configs: Mapping[str, str] | None = None,
        exist_ok: bool = False,
    ) -> str:
        """Create ``name`` and wait until every partition has a leader. Returns ``name``."""
        from kafka.errors import TopicAlreadyExistsError

        spec: dict[str, Any] = {"num_partitions": partitions, "replication_factor": replication_factor}
        if configs:
            spec["configs"] = dict(configs)
        admin = self.admin()
        try:
            try:
                admin.create_topics({name: spec}, wait_for_metadata=True)
            except TopicAlreadyExistsError:
                if not exist_ok:
                    raise
        finally:
            admin.close()
        return name


class ExternalKafka(_TopicAdmin):
    """An already running broker (``SALESPLANE_TEST_KAFKA_BOOTSTRAP``); same API as :class:`KafkaBroker`."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers

    @property
    def bootstrap_servers(self) -> str:
        return self._bootstrap

    def __repr__(self) -> str:
        return f"ExternalKafka({self._bootstrap!r})"


class KafkaBroker(_TopicAdmin, ThrowAwayServer):
    """A throw-away single-node KRaft Kafka broker on loopback, in its own temp dir.

    Usage::

        with KafkaBroker() as broker:
            producer = KafkaProducer(bootstrap_servers=broker.bootstrap_servers)
    """

    JVM_OPTS: tuple[str, ...] = (
        "-Xms256m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        # C1 only: the broker starts ~1.5 s faster on small machines; peak throughput is irrelevant here.
        "-XX:TieredStopAtLevel=1",
        "-XX:+IgnoreUnrecognizedVMOptions",
        "-Djava.awt.headless=true",
    )

    def __init__(
        self,
        *,
        port: int | None = None,
        controller_port: int | None = None,
        startup_timeout: float = 90.0,
        stop_timeout: float = 30.0,
        extra_properties: Mapping[str, str] | None = None,
        pom: Path | None = None,
        log_level: str = "INFO",
        advertised_listeners: Mapping[str, int] | None = None,
    ) -> None:
        """`advertised_listeners` adds, for each name, a listener on a port of the broker's own
        that advertises the given loopback port instead: a TCP proxy's. A client bootstrapped
        through that proxy is told the proxy's address in every metadata answer and so stays on
        it; without this it would be handed the broker's real address and bypass the proxy. Test
        clients keep using :attr:`bootstrap_servers` (the direct listener)."""
        for name in advertised_listeners or {}:
            if not name.isidentifier() or not name.isupper() or name in ("PLAINTEXT", "CONTROLLER"):
                raise ValueError(f"listener name {name!r} must be an upper-case word other than ours")
        self.advertised_listeners = dict(advertised_listeners or {})
        # Where each extra listener listens (chosen at start; kept by restart()).
        self._listener_ports: dict[str, int] = {}
        self._requested_port = port
        self._requested_controller_port = controller_port
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_properties = dict(extra_properties or {})
        self._pom = pom
        self.log_level = log_level
        self._port: int | None = None
        self._controller_port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._cds_pending: tuple[Path, Path] | None = None
        self.startup_seconds: float | None = None
        self._restart_cmd: list[str] = []

    # ----------------------------------------------------------------- public API

    @property
    def bootstrap_servers(self) -> str:
        if self._port is None or self._proc is None:
            raise RuntimeError("KafkaBroker is not started")
        return f"{LOOPBACK}:{self._port}"

    @property
    def port(self) -> int | None:
        return self._port

    def listener_address(self, name: str) -> str:
        """Where the extra listener `name` really listens: the upstream of its proxy."""
        if name not in self._listener_ports:
            raise RuntimeError(f"KafkaBroker is not started or has no listener {name!r}")
        return f"{LOOPBACK}:{self._listener_ports[name]}"

    @property
    def controller_port(self) -> int | None:
        return self._controller_port

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def temp_dir(self) -> Path | None:
        return self._tmp

    @property
    def log_path(self) -> Path | None:
        return self._tmp / "logs" / "server.log" if self._tmp is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def log_tail(self, lines: int = 80) -> str:
        return tail(self.log_path, lines)

    def ensure_jars(self) -> Path:
        """Fetch the jars into the cache if needed; returns the libs directory."""
        return ensure_jars(self._pom)

    def _start(self) -> None:
        """Format storage, start the JVM, wait until the broker answers. Raises :class:`ServiceStartError`."""
        if self._proc is not None:
            raise RuntimeError("KafkaBroker already started")
        libs = self.ensure_jars()
        java = find_java()
        fixed_ports = self._requested_port is not None or self._requested_controller_port is not None
        attempts = 1 if fixed_ports else 3
        for attempt in range(1, attempts + 1):
            try:
                self._start_once(java, libs)
            except ServiceStartError as exc:
                self._cleanup(kill=True)
                if attempt < attempts and "Address already in use" in str(exc):
                    continue  # lost a race for the port with another process; pick new ones
                raise
            except BaseException:  # e.g. Ctrl-C while waiting: never leave a JVM behind
                self._cleanup(kill=True)
                raise
            break

    # ----------------------------------------------------------------- faults

    def kill(self) -> None:
        """SIGKILL the broker, as a crashed node: no flush, no clean shutdown. Its data stays, and
        :meth:`restart` starts it again on that data, on the same ports."""
        if self._proc is None:
            raise RuntimeError("KafkaBroker is not started")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signal.SIGKILL)
        self._proc.wait(timeout=30)

    def restart(self) -> float:
        """Start the broker again after :meth:`kill` on the same log directory and ports; returns
        the seconds until it answered."""
        if self._proc is None or self._tmp is None:
            raise RuntimeError("KafkaBroker is not started")
        if self._proc.poll() is None:
            raise RuntimeError("KafkaBroker is still running; kill() it first")
        began = time.monotonic()
        log_file = self._tmp / "logs" / "server.log"
        # Wait for the new process's own start-up line, not the one the old process wrote.
        with contextlib.suppress(FileNotFoundError):
            log_file.rename(log_file.with_name(f"server.{int(time.time() * 1000)}.log"))
        self._launch(self._restart_cmd, self._tmp, log_file, self._tmp / "logs" / "console.log")
        return time.monotonic() - began

    def pause(self) -> None:
        """SIGSTOP the broker: it keeps its sockets but answers nothing (a stalled node)."""
        if self._proc is None:
            raise RuntimeError("KafkaBroker is not started")
        os.killpg(self._proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after :meth:`pause`."""
        if self._proc is None:
            raise RuntimeError("KafkaBroker is not started")
        os.killpg(self._proc.pid, signal.SIGCONT)

    def _stop(self) -> None:
        """SIGTERM (clean shutdown), SIGKILL after ``stop_timeout``; then delete the temp dir."""
        self._cleanup(kill=False)

    def __repr__(self) -> str:
        where = f"{LOOPBACK}:{self._port}" if self._port else "not started"
        return f"KafkaBroker({where}, pid={self.pid})"

    # ----------------------------------------------------------------- internals

    def _properties(self, tmp: Path) -> dict[str, str]:
        port, ctl = self._port, self._controller_port
        extra = self.advertised_listeners
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{LOOPBACK}:{ctl}",
            "listeners": ",".join(
                [f"PLAINTEXT://{LOOPBACK}:{port}", f"CONTROLLER://{LOOPBACK}:{ctl}"]
                + [f"{name}://{LOOPBACK}:{self._listener_ports[name]}" for name in extra]
            ),
            "advertised.listeners": ",".join(
                [f"PLAINTEXT://{LOOPBACK}:{port}"]
                + [f"{name}://{LOOPBACK}:{at}" for name, at in extra.items()]
            ),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": ",".join(
                ["CONTROLLER:PLAINTEXT", "PLAINTEXT:PLAINTEXT"] + [f"{name}:PLAINTEXT" for name in extra]
            ),
            "log.dirs": str(tmp / "data"),
            "num.partitions": "3",
            "default.replication.factor": "1",
            "min.insync.replicas": "1",
            "auto.create.topics.enable": "true",
            "offsets.topic.replication.factor": "1",
            # 50 partitions by default: creating them slows the first consumer-group join for nothing.
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            # The log cleaner allocates its dedupe buffer up front (128 MiB by default).
            "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
            "num.network.threads": "2",
            "num.io.threads": "4",
        }
        props.update(self.extra_properties)
        return props

    def _log4j2_config(self, log_file: Path) -> str:
        level = self.log_level
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN" shutdownHook="disable">
  <Appenders>
    <File name="file" fileName={quoteattr(str(log_file))} immediateFlush="true">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
    </File>
  </Appenders>
  <Loggers>
    <Logger name="kafka" level="{level}"/>
    <Logger name="org.apache.kafka" level="{level}"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Root level="WARN"><AppenderRef ref="file"/></Root>
  </Loggers>
</Configuration>
"""

    def _cds_options(self, java: str, libs: Path) -> list[str]:
        """Class-data-sharing archive: written at the first clean stop, then reused (~1 s faster start)."""
        self._cds_pending = None
        setting = os.environ.get(CDS_ENV, "").strip().lower()
        if setting in ("0", "false", "no", "off"):
            return []
        # Writing the archive costs ~3 s at the first stop; a throw-away CI machine never reuses it.
        may_create = setting in ("1", "true", "yes", "on") or not is_ci()
        try:
            real_java = Path(java).resolve()
            java_stat = real_java.stat()
            marker_stat = (libs / JARS_MARKER).stat()
        except OSError:
            return []
        key = hashlib.sha256(
            f"{real_java}:{java_stat.st_size}:{java_stat.st_mtime_ns}:{marker_stat.st_mtime_ns}".encode()
        ).hexdigest()[:16]
        archive = libs.parent / "cds" / f"kafka-{key}.jsa"
        if archive.is_file():
            return [f"-XX:SharedArchiveFile={archive}"]
        if not may_create:
            return []
        with contextlib.suppress(OSError):
            archive.parent.mkdir(parents=True, exist_ok=True)
            pending = archive.with_name(f"{archive.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")
            self._cds_pending = (pending, archive)
            return [f"-XX:ArchiveClassesAtExit={pending}"]
        return []

    def _start_once(self, java: str, libs: Path) -> None:
        if self._requested_port is not None and self._requested_controller_port is not None:
            self._port, self._controller_port = self._requested_port, self._requested_controller_port
        else:
            port, ctl = free_ports(2)
            self._port = self._requested_port or port
            self._controller_port = self._requested_controller_port or (
                ctl if ctl != self._port else free_ports(2)[1]
            )
        taken = {self._port, self._controller_port}
        spare = [p for p in free_ports(len(self.advertised_listeners) + 2) if p not in taken]
        self._listener_ports = dict(zip(self.advertised_listeners, spare, strict=False))
        tmp = Path(tempfile.mkdtemp(prefix="salesplane-kafka-"))
        self._tmp = tmp
        (tmp / "logs").mkdir()
        log_file = tmp / "logs" / "server.log"
        console = tmp / "logs" / "console.log"
        props_file = tmp / "server.properties"
        props_file.write_text("".join(f"{k}={v}\n" for k, v in self._properties(tmp).items()))
        log4j = tmp / "log4j2.xml"
        log4j.write_text(self._log4j2_config(log_file))

        cds = self._cds_options(java, libs)
        base = [
            java,
            *self.JVM_OPTS,
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={log_file.parent}",
        ]
        classpath = ["-cp", f"{libs}{os.sep}*"]
        format_cds = [o for o in cds if o.startswith("-XX:SharedArchiveFile=")]

        # 1. Format the storage. A static voters list (controller.quorum.voters) needs no
        #    --standalone / --initial-controllers flag on Kafka 4.
        fmt_cmd = [
            *base,
            *format_cds,
            *classpath,
            "kafka.tools.StorageTool",
            "format",
            "-t",
            random_cluster_id(),
            "-c",
            str(props_file),
        ]
        fmt = subprocess.run(
            fmt_cmd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            cwd=tmp,
            timeout=120,
            check=False,
        )
        if fmt.returncode != 0:
            raise ServiceStartError(
                format_diagnostics(
                    f"formatting Kafka storage failed (exit code {fmt.returncode})",
                    {
                        "command": " ".join(fmt_cmd),
                        "stdout": fmt.stdout[-4000:],
                        "stderr": fmt.stderr[-4000:],
                        "server.properties": props_file.read_text(),
                    },
                )
            )

        # 2. Start the broker in its own process group.
        cmd = [*base, *cds, *classpath, "kafka.Kafka", str(props_file)]
        # A restart runs the same broker on the same data; it never writes a CDS archive.
        self._restart_cmd = [c for c in cmd if not c.startswith("-XX:ArchiveClassesAtExit=")]
        self._launch(cmd, tmp, log_file, console)

    def _launch(self, cmd: list[str], tmp: Path, log_file: Path, console: Path) -> None:
        with console.open("ab") as out:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=tmp,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
            )
        self._wait_ready(log_file, console, cmd)

    def _wait_ready(self, log_file: Path, console: Path, cmd: list[str]) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout

        def fail(reason: str) -> ServiceStartError:
            return ServiceStartError(
                format_diagnostics(
                    f"Kafka broker on {LOOPBACK}:{self._port} {reason}",
                    {
                        "command": " ".join(cmd),
                        "errors in server log": matching_lines(log_file, (" ERROR ", " FATAL ", "Exception")),
                        f"server log tail ({log_file})": tail(log_file, 80),
                        "console output tail": tail(console, 40),
                    },
                )
            )

        seen = ""
        offset = 0
        while READY_LINE not in seen:
            if self._proc.poll() is not None:
                raise fail(f"exited with code {self._proc.returncode} during start-up")
            if time.monotonic() > deadline:
                raise fail(f"did not log {READY_LINE!r} within {self.startup_timeout:.0f} s")
            with contextlib.suppress(FileNotFoundError), log_file.open("rb") as fh:
                fh.seek(offset)
                chunk = fh.read()
                offset += len(chunk)
                # keep a little of the previous chunk so a line split across reads still matches
                seen = seen[-200:] + chunk.decode("utf-8", errors="replace")
            if READY_LINE not in seen:
                time.sleep(0.05)

        # The server says it is up; prove it by talking to it with kafka-python.
        last_error: Exception | None = None
        while True:
            if self._proc.poll() is not None:
                raise fail(f"exited with code {self._proc.returncode} right after start-up")
            try:
                admin = self.admin(request_timeout_ms=5000)
                try:
                    admin.list_topics()
                finally:
                    admin.close()
                return
            except Exception as exc:
                last_error = exc
            if time.monotonic() > deadline:
                raise fail(f"logged start-up but kafka-python cannot list topics: {last_error!r}")
            time.sleep(0.2)

    def _cleanup(self, *, kill: bool) -> None:
        proc, self._proc = self._proc, None
        clean_exit = False
        if proc is not None:
            grace = 0.0 if kill else self.stop_timeout
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGCONT)  # a paused broker cannot act on SIGTERM
            if kill:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            code = terminate_process_group(proc, grace)
            clean_exit = not kill and code in (0, 128 + signal.SIGTERM, -signal.SIGTERM)
        if self._cds_pending is not None:
            pending, archive = self._cds_pending
            self._cds_pending = None
            if clean_exit and pending.is_file() and pending.stat().st_size > 0:
                with contextlib.suppress(OSError):
                    os.replace(pending, archive)
            with contextlib.suppress(OSError):
                pending.unlink()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self._port = None
        self._controller_port = None


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m salesplane_testing.kafka_broker",
        description="Run a throw-away single-node Kafka broker in the foreground (Ctrl-C stops it).",
    )
    parser.add_argument("--port", type=int, default=None, help="broker port (default: a free one)")
    parser.add_argument("--controller-port", type=int, default=None, help="controller port (default: free)")
    parser.add_argument("--timeout", type=float, default=90.0, help="start-up timeout in seconds")
    args = parser.parse_args(argv)

    broker = KafkaBroker(port=args.port, controller_port=args.controller_port, startup_timeout=args.timeout)
    return serve_in_foreground(
        broker,
        address=lambda: broker.bootstrap_servers,
        describe=lambda: (
            f"Kafka broker ready in {broker.startup_seconds:.1f} s (pid {broker.pid}, log {broker.log_path})"
        ),
    )


if __name__ == "__main__":
    sys.exit(main())
