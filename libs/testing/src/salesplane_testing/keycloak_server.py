"""A real OpenID Connect provider for the identity tests: Keycloak, from Maven Central.

``tools/keycloak/pom.xml`` names the distribution; it is fetched once with Maven into
``~/.cache/salesplane/keycloak-<version>`` and unpacked there. Keycloak needs Java 21 or newer:
``SALESPLANE_KEYCLOAK_JAVA_HOME``, else the newest JDK of at least 21 under ``/usr/lib/jvm``.

Each start runs ``kc.sh start-dev`` on free loopback ports with an in-memory database and imports
the test realm (``REALM``): two Salesplane clients and a few users. Ready when the realm's discovery
document answers; a start takes 30-60 s, so the pytest fixture is session-scoped.

The realm:
* ``salesplane-console``: confidential, authorization code with PKCE (S256) and, for tests only,
  the password grant; its tokens carry audience ``salesplane``.
* ``salesplane-leads`` and ``salesplane-forecasting``: service accounts (client-credentials grant),
  audience ``salesplane``.
* users ``alice``, ``bob``, ``carol`` (password ``<name>-password``), e-mails verified.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
import zipfile
from pathlib import Path
from typing import Any

from salesplane_testing._util import LOOPBACK, ServiceStartError, file_lock, free_ports
from salesplane_testing.kafka_broker import cache_root

POM_RELATIVE = Path("tools", "keycloak", "pom.xml")
REALM = "salesplane"
AUDIENCE = "salesplane"
CONSOLE_CLIENT = "salesplane-console"
CONSOLE_SECRET = "console-secret-for-tests-only"
SERVICE_CLIENT = "salesplane-leads"
SERVICE_SECRET = "leads-secret-for-tests-only"
FORECASTING_CLIENT = "salesplane-forecasting"
FORECASTING_SECRET = "forecasting-secret-for-tests-only"
USERS = ("alice", "bob", "carol")
ADMIN = ("admin", "admin-password-for-tests-only")
_START_TIMEOUT_S = 180.0
_MVN_TIMEOUT_S = 900
_MAVEN_NS = {"m": "http://maven.apache.org/POM/4.0.0"}
_JAVA_VERSION = re.compile(r'^JAVA_VERSION="(\d+)', re.MULTILINE)


def _audience_mapper() -> dict[str, Any]:
    return {
        "name": "salesplane-audience",
        "protocol": "openid-connect",
        "protocolMapper": "oidc-audience-mapper",
        "config": {
            "included.custom.audience": AUDIENCE,
            "access.token.claim": "true",
            "id.token.claim": "false",
            "introspection.token.claim": "true",
        },
    }


def _service_client(client_id: str, secret: str) -> dict[str, Any]:
    return {
        "clientId": client_id,
        "enabled": True,
        "publicClient": False,
        "secret": secret,
        "standardFlowEnabled": False,
        "directAccessGrantsEnabled": False,
        "serviceAccountsEnabled": True,
        "protocolMappers": [_audience_mapper()],
    }


def realm_definition() -> dict[str, Any]:
    return {
        "realm": REALM,
        "enabled": True,
        "accessTokenLifespan": 300,
        "sslRequired": "none",
        "clients": [
            {
                "clientId": CONSOLE_CLIENT,
                "enabled": True,
                "publicClient": False,
                "secret": CONSOLE_SECRET,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "serviceAccountsEnabled": False,
                "redirectUris": [f"http://{LOOPBACK}:*", "http://localhost:*"],
                "webOrigins": ["+"],
                "attributes": {"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "+"},
                "protocolMappers": [_audience_mapper()],
            },
            _service_client(SERVICE_CLIENT, SERVICE_SECRET),
            _service_client(FORECASTING_CLIENT, FORECASTING_SECRET),
        ],
        "users": [
            {
                "username": name,
                "enabled": True,
                "email": f"{name}@example.test",
                "emailVerified": True,
                "firstName": name.title(),
                "lastName": "Tester",
                "credentials": [{"type": "password", "value": f"{name}-password", "temporary": False}],
            }
            for name in USERS
        ],
    }


def find_pom(start: Path | None = None) -> Path:
    here = (start or Path(__file__)).resolve()
    for directory in (here, *here.parents, Path.cwd(), *Path.cwd().parents):
        candidate = directory / POM_RELATIVE
        if candidate.is_file():
            return candidate
    raise ServiceStartError(f"cannot find {POM_RELATIVE} above {here} or the working directory")


def read_version(pom: Path) -> str:
    node = ET.parse(pom).getroot().find("m:properties/m:keycloak.version", _MAVEN_NS)
    if node is None or not (node.text or "").strip():
        raise ServiceStartError(f"{pom} has no <properties><keycloak.version>")
    return (node.text or "").strip()


def ensure_distribution(pom: Path | None = None) -> Path:
    """The unpacked distribution's home (fetched with Maven and unpacked once)."""
    pom = pom or find_pom()
    version = read_version(pom)
    home = cache_root() / f"keycloak-{version}" / "dist"
    marker = home / ".unpacked"
    if marker.is_file():
        return home
    with file_lock(home.parent / ".lock"):
        if marker.is_file():
            return home
        mvn = shutil.which("mvn")
        if mvn is None:
            raise ServiceStartError(
                "Maven ('mvn') is needed once to fetch Keycloak (Debian: apt-get install maven)"
            )
        staging = Path(tempfile.mkdtemp(prefix="fetch-", dir=home.parent))
        try:
            proc = subprocess.run(
                [
                    mvn,
                    "-q",
                    "-B",
                    "-f",
                    str(pom),
                    "dependency:copy-dependencies",
                    "-DincludeTypes=zip",
                    f"-DoutputDirectory={staging}",
                ],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_MVN_TIMEOUT_S,
                check=False,
            )
            archives = list(staging.glob("keycloak-quarkus-dist-*.zip"))
            if proc.returncode != 0 or not archives:
                raise ServiceStartError(
                    f"fetching Keycloak {version} with Maven failed ({proc.returncode}): "
                    + proc.stderr[-2000:]
                )
            unpacked = staging / "unpacked"
            with zipfile.ZipFile(archives[0]) as archive:
                archive.extractall(unpacked)
            [top] = list(unpacked.iterdir())
            for script in (top / "bin").glob("*.sh"):
                script.chmod(0o755)
            if home.exists():
                shutil.rmtree(home)
            top.rename(home)
            marker.write_text(version + "\n")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return home


def find_java_home() -> Path:
    """A JDK of at least 21 (Keycloak's minimum)."""
    configured = os.environ.get("SALESPLANE_KEYCLOAK_JAVA_HOME", "").strip()
    if configured:
        return Path(configured)
    candidates: list[tuple[int, Path]] = []
    for release in Path("/usr/lib/jvm").glob("*/release"):
        found = _JAVA_VERSION.search(release.read_text(errors="replace"))
        if found and int(found.group(1)) >= 21 and (release.parent / "bin" / "java").exists():
            candidates.append((int(found.group(1)), release.parent))
    if not candidates:
        raise ServiceStartError(
            "Keycloak needs Java 21 or newer: none under /usr/lib/jvm; set SALESPLANE_KEYCLOAK_JAVA_HOME"
        )
    return max(candidates)[1]


class KeycloakServer:
    """A started Keycloak with the test realm; stop() ends it."""

    def __init__(self, log_dir: Path) -> None:
        self.home = ensure_distribution()
        self.http_port, self.management_port = free_ports(2)
        self._log_path = log_dir / f"keycloak-{self.http_port}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def issuer(self) -> str:
        return f"{self.base_url}/realms/{REALM}"

    def start(self) -> KeycloakServer:
        # --import-realm reads the distribution's data/import: the realm is written there per start.
        target = self.home / "data" / "import"
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{REALM}-realm.json").write_text(json.dumps(realm_definition()))
        env = {
            **os.environ,
            "JAVA_HOME": str(find_java_home()),
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN[0],
            "KC_BOOTSTRAP_ADMIN_PASSWORD": ADMIN[1],
            "JAVA_OPTS_KC_HEAP": "-Xms256m -Xmx768m",
        }
        command = [
            str(self.home / "bin" / "kc.sh"),
            "start-dev",
            f"--http-port={self.http_port}",
            f"--http-host={LOOPBACK}",
            f"--http-management-port={self.management_port}",
            "--db=dev-mem",
            "--import-realm",
        ]
        log = self._log_path.open("wb")
        self._process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + _START_TIMEOUT_S
        url = f"{self.issuer}/.well-known/openid-configuration"
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise ServiceStartError(
                    f"Keycloak exited with {self._process.returncode}:\n{self.log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.5)
        self.stop()
        raise ServiceStartError(f"Keycloak was not ready within {_START_TIMEOUT_S:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self._log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            os.killpg(self._process.pid, 15)
            self._process.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, 9)
        self._process = None

    # -- what the tests ask of the provider ------------------------------------------------------

    def _post_form(self, url: str, form: dict[str, str], token: str | None = None) -> dict[str, Any]:
        request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(), method="POST")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))

    def password_token(self, user: str, password: str | None = None) -> str:
        """An access token for a realm user (the password grant: tests only)."""
        answer = self._post_form(
            f"{self.issuer}/protocol/openid-connect/token",
            {
                "grant_type": "password",
                "client_id": CONSOLE_CLIENT,
                "client_secret": CONSOLE_SECRET,
                "username": user,
                "password": password or f"{user}-password",
                "scope": "openid",
            },
        )
        return str(answer["access_token"])

    def service_token(self) -> str:
        """The leads service account's access token (client credentials)."""
        answer = self._post_form(
            f"{self.issuer}/protocol/openid-connect/token",
            {
                "grant_type": "client_credentials",
                "client_id": SERVICE_CLIENT,
                "client_secret": SERVICE_SECRET,
            },
        )
        return str(answer["access_token"])

    def _get_json(self, url: str, token: str) -> dict[str, Any]:
        request = urllib.request.Request(url)
        request.add_header("Authorization", f"Bearer {token}")
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))

    def _next_priority(self) -> int:
        self._rotations = getattr(self, "_rotations", 0) + 1
        # Above the default providers' 100: the newest key signs.
        return 1000 + self._rotations

    def published_key_ids(self) -> list[str]:
        with urllib.request.urlopen(f"{self.issuer}/protocol/openid-connect/certs", timeout=30) as response:
            return [str(key["kid"]) for key in json.loads(response.read())["keys"]]

    def admin_token(self) -> str:
        answer = self._post_form(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            {"grant_type": "password", "client_id": "admin-cli", "username": ADMIN[0], "password": ADMIN[1]},
        )
        return str(answer["access_token"])

    def rotate_signing_key(self) -> None:
        """Add an RSA key of higher priority: new tokens are signed with it; the old key stays
        published, so tokens it signed verify until they expire."""
        admin = self.admin_token()
        realm = self._get_json(f"{self.base_url}/admin/realms/{REALM}", admin)
        body = json.dumps(
            {
                "name": f"rotated-{time.time_ns()}",
                "providerId": "rsa-generated",
                "providerType": "org.keycloak.keys.KeyProvider",
                # The realm's id, which need not be its name.
                "parentId": realm["id"],
                "config": {
                    "priority": [str(1000 + int(time.time()))],
                    "keySize": ["2048"],
                    "active": ["true"],
                },
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/admin/realms/{REALM}/components", data=body, method="POST"
        )
        request.add_header("Authorization", f"Bearer {admin}")
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as response:
            if response.status not in (201, 204):
                raise ServiceStartError(f"adding a signing key answered {response.status}")
