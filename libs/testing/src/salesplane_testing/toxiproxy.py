"""A real Toxiproxy server (Shopify's fault-injecting TCP proxy) for tests, and a typed client of
its HTTP API.

A test puts a proxy between a service and what it talks to (the broker, its database), points the
service at the proxy, and then breaks the link on purpose::

    with ToxiproxyServer() as toxiproxy:
        proxy = toxiproxy.create_proxy("opportunities-db", upstream="127.0.0.1:5432")
        # ... the service connects to proxy.listen ...
        with proxy.toxic("latency", latency=300, jitter=100):
            ...  # every byte from the database now arrives 300 +- 100 ms late

Toxics (the attributes in brackets): ``latency`` (latency, jitter; ms), ``bandwidth`` (rate; KB/s),
``reset_peer`` (timeout; ms before the connection is reset with a TCP RST), ``timeout`` (timeout;
0 is a blackhole: data is dropped and the connection held until the toxic goes, when Toxiproxy
closes it), ``slicer``, ``limit_data``. A toxic acts on one direction: ``downstream`` (upstream to
client, the default) or ``upstream`` (client to upstream).

``toxiproxy-server`` is built through the Go module proxy by ``tools/install-toxiproxy.sh`` (``make
test`` does). Developers can run one in the foreground with ``python -m salesplane_testing.toxiproxy``.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from salesplane_testing._util import (
    LOOPBACK,
    ServiceStartError,
    format_diagnostics,
    free_port,
    is_ci,
    parent_death_signal,
    tail,
    terminate_process_group,
)
from salesplane_testing.go_tools import go_tool
from salesplane_testing.server_lifecycle import ThrowAwayServer, serve_in_foreground

BINARY = "toxiproxy-server"
# Names the binary explicitly, ahead of PATH and the Go bin directories.
BINARY_ENV = "SALESPLANE_TOXIPROXY_SERVER"
INSTALL_HINT = "run tools/install-toxiproxy.sh (make test does)"
Stream = Literal["downstream", "upstream"]
_PORT_ATTEMPTS = 3


class ToxiproxyError(RuntimeError):
    """The Toxiproxy API refused a request; the message carries its status and answer."""


def find_toxiproxy() -> str | None:
    """Where toxiproxy-server is (``$SALESPLANE_TOXIPROXY_SERVER``, PATH, Go's bin), or None."""
    return go_tool(BINARY, env_var=BINARY_ENV)


def require_toxiproxy() -> str:
    """The binary for a test that needs it: a missing one fails the test under CI (the suite must
    not quietly lose its network faults there) and skips it elsewhere, saying how to get it."""
    found = find_toxiproxy()
    if found is None:
        message = f"{BINARY} not found; {INSTALL_HINT}"
        if is_ci():
            pytest.fail(message)
        pytest.skip(message)
    return found


class _Api:
    """JSON over HTTP to one toxiproxy-server (the standard library is enough for five calls)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"} if data is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as error:
            raise ToxiproxyError(
                f"{method} {path} -> {error.code}: {error.read().decode(errors='replace')}"
            ) from error
        return json.loads(text) if text.strip() else None


@dataclasses.dataclass(frozen=True)
class Proxy:
    """One proxy: clients connect to `listen`, Toxiproxy connects on to `upstream`."""

    api: _Api
    name: str
    listen: str
    upstream: str

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    def add_toxic(
        self,
        kind: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> str:
        """Add a toxic of type `kind` (its attributes as keywords); returns its name. Toxicity is
        the share of connections it applies to. It acts on open connections at once."""
        toxic_name = name or f"{kind}_{stream}"
        self.api.call(
            "POST",
            f"/proxies/{self.name}/toxics",
            {
                "name": toxic_name,
                "type": kind,
                "stream": stream,
                "toxicity": toxicity,
                "attributes": attributes,
            },
        )
        return toxic_name

    def remove_toxic(self, name: str) -> None:
        self.api.call("DELETE", f"/proxies/{self.name}/toxics/{name}")

    def toxics(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.api.call("GET", f"/proxies/{self.name}/toxics")
        return found

    @contextlib.contextmanager
    def toxic(
        self,
        kind: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        **attributes: int,
    ) -> Iterator[str]:
        """The toxic for the block's duration, removed however the block ends."""
        toxic_name = self.add_toxic(kind, stream=stream, toxicity=toxicity, name=name, **attributes)
        try:
            yield toxic_name
        finally:
            self.remove_toxic(toxic_name)

    def retarget(self, upstream: str) -> Proxy:
        """The same proxy (same listen port) forwarding to `upstream` from now on: lets a proxy's
        port be known before what it forwards to is started (a broker that must advertise it)."""
        self.api.call("PATCH", f"/proxies/{self.name}", {"upstream": upstream, "enabled": True})
        return dataclasses.replace(self, upstream=upstream)

    def set_enabled(self, enabled: bool) -> None:
        """A disabled proxy closes its connections and refuses new ones (the link is down)."""
        self.api.call("PATCH", f"/proxies/{self.name}", {"enabled": enabled})


class ToxiproxyServer(ThrowAwayServer):
    """A throw-away toxiproxy-server on loopback and a free API port.

    Usage::

        with ToxiproxyServer() as toxiproxy:
            proxy = toxiproxy.create_proxy("db", upstream=f"127.0.0.1:{port}")
    """

    def __init__(self, *, binary: str | None = None, startup_timeout: float = 20.0) -> None:
        self._binary = binary
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: Path | None = None
        self._port: int | None = None

    @property
    def api_url(self) -> str:
        if self._port is None:
            raise RuntimeError("ToxiproxyServer is not started")
        return f"http://{LOOPBACK}:{self._port}"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def log_path(self) -> Path | None:
        return self._tmp / "toxiproxy.log" if self._tmp is not None else None

    def log_tail(self, lines: int = 60) -> str:
        return tail(self.log_path, lines)

    def create_proxy(self, name: str, *, upstream: str, listen: str = f"{LOOPBACK}:0") -> Proxy:
        """A new enabled proxy; with the default `listen` Toxiproxy picks a free port (see
        :attr:`Proxy.listen`). The upstream need not be listening yet: Toxiproxy connects to it
        for each client connection."""
        created = self._api().call(
            "POST", "/proxies", {"name": name, "listen": listen, "upstream": upstream, "enabled": True}
        )
        return Proxy(self._api(), created["name"], created["listen"], created["upstream"])

    def reset(self) -> None:
        """Every proxy enabled again and every toxic removed."""
        self._api().call("POST", "/reset")

    def version(self) -> str:
        answer = self._api().call("GET", "/version")
        return str(answer["version"] if isinstance(answer, dict) else answer)

    def _api(self) -> _Api:
        return _Api(self.api_url)

    def _start(self) -> None:
        if self._proc is not None:
            raise RuntimeError("ToxiproxyServer already started")
        binary = self._binary or find_toxiproxy()
        if binary is None:
            raise ServiceStartError(f"{BINARY} not found on PATH nor in Go's bin directory; {INSTALL_HINT}")
        self._tmp = Path(tempfile.mkdtemp(prefix="salesplane-toxiproxy-"))
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            try:
                self._start_once(binary)
                return
            except ServiceStartError as error:
                self._cleanup()
                # Another process took the free port between the probe and the bind: try another.
                if attempt == _PORT_ATTEMPTS or "address already in use" not in str(error):
                    raise
            except BaseException:
                self._cleanup()
                raise

    def _start_once(self, binary: str) -> None:
        assert self._tmp is not None
        self._port = free_port()
        command = [binary, "-host", LOOPBACK, "-port", str(self._port)]
        log_path = self._tmp / "toxiproxy.log"
        with log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=parent_death_signal(),
            )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self._proc.poll() is not None:
                raise self._failure(f"exited with code {self._proc.returncode} during start-up", command)
            with contextlib.suppress(OSError):
                self.version()
                return
            if time.monotonic() > deadline:
                raise self._failure(f"did not answer within {self.startup_timeout:.0f} s", command)
            time.sleep(0.05)

    def _failure(self, reason: str, command: list[str]) -> ServiceStartError:
        return ServiceStartError(
            format_diagnostics(
                f"toxiproxy-server on {LOOPBACK}:{self._port} {reason}",
                {"command": " ".join(command), "log tail": self.log_tail(40)},
            )
        )

    def _stop(self) -> None:
        self._cleanup()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def _cleanup(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            terminate_process_group(proc, 5.0)
        self._port = None

    def __repr__(self) -> str:
        where = self.api_url if self._port else "not started"
        return f"ToxiproxyServer({where})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m salesplane_testing.toxiproxy",
        description="Run a throw-away toxiproxy-server in the foreground (Ctrl-C stops it).",
    )
    parser.parse_args(argv)
    server = ToxiproxyServer()
    return serve_in_foreground(
        server,
        address=lambda: server.api_url,
        describe=lambda: f"toxiproxy-server {server.version()} ready in {server.startup_seconds:.1f} s",
    )


if __name__ == "__main__":
    sys.exit(main())
