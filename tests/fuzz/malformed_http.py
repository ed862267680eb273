"""A seeded generator of malformed HTTP requests to the gateway, derived from its OpenAPI document.

Each request starts from a plausible one for an operation of /openapi.json (path parameters naming
real records, query parameters and a JSON body built from the operation's schemas, a valid token)
and then gets one or two flaws:

- the body: broken JSON (truncated, trailing commas, comments, NaN, single quotes, invalid UTF-8,
  a byte order mark, lone surrogates, nesting thousands deep), JSON of the wrong top-level type,
  a field of the wrong type, null, junk or oversized text, an unknown enum value, an impossible
  date, an id naming nothing, a number past int64 or a float where an integer goes, an unknown or a
  missing required field, a body past the gateway's size limit;
- the framing: a wrong or missing content type, a wrong method for the path (or no method the
  gateway knows), a junk path parameter (percent-encoded control characters, invalid UTF-8,
  traversal, oversized), a path that names no route, junk query strings (wrong types, unknown or
  repeated parameters, invalid percent-encoding, oversized);
- the headers: no token, a malformed, expired, tampered or foreign-signed one, Basic credentials,
  a junk session cookie, a junk If-Match, Accept or Origin.

A plain mutator over `random.Random(seed)`, like malformed_grpc.py: the same seed gives the same
requests.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from salesplane_platform.identity import issue_token
from tests.fuzz import junk_values as junk

Json = Any
Header = tuple[str, str]
# Operations that only read although they are POSTs (a report run or export of a sent definition).
READ_POSTS = ("/v1/reports:run", "/v1/reports:export")
ODD_METHODS = ("TRACE", "PROPFIND", "FOO", "MKCOL", "OPTIONS", "HEAD")
MAX_SCHEMA_DEPTH = 5
TOLERABLE = ("header Accept", "header Origin", "header X-", "method OPTIONS", "method HEAD")


@dataclass(frozen=True)
class HttpCase:
    method: str
    url: str  # path and query, percent-encoded
    headers: tuple[Header, ...]
    body: bytes
    operation: str  # "PATCH /v1/opportunities/{opportunity_id}", or "no route"
    flaw: str

    @property
    def target(self) -> str:
        return self.operation

    @property
    def is_read(self) -> bool:
        """A request that must not change anything, whatever the gateway answers."""
        return self.method in ("GET", "HEAD", "OPTIONS") or (
            self.method == "POST" and self.url.split("?")[0] in READ_POSTS
        )

    def describe(self) -> str:
        headers = list(self.headers)[:4]
        return f"{self.method} {self.url[:300]} [{self.flaw}] headers {headers} body {self.body[:300]!r}"


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    parameters: tuple[Mapping[str, Json], ...]
    bodies: Mapping[str, Json]  # content type -> schema

    @property
    def name(self) -> str:
        return f"{self.method} {self.path}"


class OpenApi:
    """The document's operations, with $refs resolved on the way."""

    def __init__(self, document: Mapping[str, Json]) -> None:
        self._document = document
        self.operations: list[Operation] = []
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method not in ("get", "post", "put", "patch", "delete"):
                    continue
                parameters = tuple(self.resolve(p) for p in operation.get("parameters", ()))
                content = self.resolve(operation.get("requestBody", {})).get("content", {})
                bodies = {kind: entry.get("schema", {}) for kind, entry in content.items()}
                self.operations.append(Operation(method.upper(), path, parameters, bodies))
        self.methods_by_path: dict[str, set[str]] = {}
        for op in self.operations:
            self.methods_by_path.setdefault(op.path, set()).add(op.method)

    def resolve(self, node: Json) -> Json:
        while isinstance(node, dict) and "$ref" in node:
            target: Json = self._document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node


class MalformedHttpRequests:
    def __init__(
        self,
        document: Mapping[str, Json],
        *,
        ids: Mapping[str, Sequence[str]],
        tokens: Sequence[str],
        secret: str,
        seed: int,
    ) -> None:
        """`ids`: real values by parameter or field name (opportunity_id, user_id, period_id ...);
        `tokens`: valid bearer tokens, the callers of the plausible requests."""
        self._rng = random.Random(seed)
        self._api = OpenApi(document)
        # The browser sign-in answers with redirects to an identity provider this stack has not.
        self._operations = [op for op in self._api.operations if not op.path.startswith("/auth/")]
        self._ids = {name: list(values) for name, values in ids.items()}
        self._known = [value for values in ids.values() for value in values]
        self._tokens = list(tokens)
        valid = issue_token(secret, "root", ["admin"])
        head, payload, signature = valid.split(".")
        self._bad_authorization = [
            "",
            "Bearer",
            "Bearer not-a-token",
            "Basic dXNlcjpwYXNzd29yZA==",
            f"Bearer {issue_token(secret, 'root', ['admin'], ttl_seconds=-60)}",
            f"Bearer {issue_token('another-secret-of-at-least-32-bytes', 'root', ['admin'])}",
            f"Bearer {head}.{payload}.{signature[::-1]}",
            f"Bearer eyJhbGciOiJub25lIn0.{payload}.",
            "Bearer " + "A" * 9000,
            f"bearer  {valid} trailing",
        ]

    @property
    def operations(self) -> list[Operation]:
        return list(self._operations)

    def draw(self) -> HttpCase:
        rng = self._rng
        op = rng.choice(self._operations)
        request = _Draft(op, self)
        flaws = [request.apply_flaw() for _ in range(rng.choice([1, 1, 1, 2]))]
        while all(flaw.startswith(TOLERABLE) for flaw in flaws):
            # Odd Accept, Origin or X-Request-Id values may rightly be ignored: never the only flaw.
            flaws.append(request.apply_flaw())
        return request.finish("; ".join(flaws))

    # --- plausible values from the schemas ----------------------------------------------------

    def plausible(self, schema: Json, name: str = "", depth: int = 0) -> Json:
        rng = self._rng
        schema = self._api.resolve(schema)
        if not isinstance(schema, dict):
            return None
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [o for o in schema[key] if self._api.resolve(o).get("type") != "null"]
                return self.plausible(rng.choice(options or schema[key]), name, depth)
        if "allOf" in schema:
            return self.plausible(schema["allOf"][0], name, depth)
        if "enum" in schema:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = rng.choice([k for k in kind if k != "null"] or ["string"])
        if kind == "object" or "properties" in schema:
            if depth >= MAX_SCHEMA_DEPTH:
                return {}
            required = set(schema.get("required", ()))
            return {
                key: self.plausible(value, key, depth + 1)
                for key, value in schema.get("properties", {}).items()
                if key in required or rng.random() < 0.5
            }
        if kind == "array":
            if depth >= MAX_SCHEMA_DEPTH:
                return []
            return [
                self.plausible(schema.get("items", {}), name, depth + 1) for _ in range(rng.randint(0, 2))
            ]
        if kind == "integer":
            low = schema.get("minimum", 0)
            high = min(schema.get("maximum", 100), low + 100)
            return rng.randint(int(low), int(high))
        if kind == "number":
            return round(rng.uniform(0, 100), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        return self.plausible_text(name, schema.get("format", ""))

    def plausible_text(self, name: str, format_: str = "") -> str:
        rng = self._rng
        if self._ids.get(name):
            return rng.choice(self._ids[name])
        if "user" in name and self._ids.get("user_id"):
            return rng.choice(self._ids["user_id"])
        if format_ == "date" or name.endswith("_date") or name == "date":
            return f"2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        if format_ == "date-time" or name.endswith("_time"):
            return "2026-11-02T09:00:00Z"
        if format_ == "uuid" or name.endswith("_id"):
            return rng.choice(self._known) if self._known and rng.random() < 0.7 else str(uuid.uuid4())
        if "currency" in name:
            return rng.choice(["EUR", "USD"])
        return rng.choice(["Acme", "Call back", "Q4 push", "Web", "x"])

    def malformed_value(self, current: Json, name: str) -> tuple[str, Json]:
        """A value of the wrong type, or of the right type but impossible."""
        rng = self._rng
        roll = rng.random()
        if roll < 0.25:
            wrong: list[Json] = [None, True, 0, -1, 1.5, "12", "", [], {}, [1, 2], {"a": 1}]
            if isinstance(current, str):
                wrong += [123, 2**70]
            value = rng.choice(wrong)
            return f"{name}={json.dumps(value)[:40]}", value
        if roll < 0.4:
            value = rng.choice([2**63, -(2**63) - 1, 2**100, 1e308, -1e308, 0.1, 1e-9, 12345678901234567890])
            return f"{name}={value!r:.40}", value
        if roll < 0.55:
            return f"{name}=impossible date", junk.impossible_date_text(rng)
        if roll < 0.7:
            return f"{name}=bad id", junk.bad_id(rng, self._known)
        if roll < 0.8:
            return f"{name}=unknown enum", rng.choice(
                ["NOPE", "lowercase_value", "0", "OPEN ", "UNSPECIFIED"]
            )
        if roll < 0.9:
            return f"{name}=oversized", junk.oversized_text(rng)
        return f"{name}=junk text", junk.junk_text(rng)

    # --- what _Draft needs from the generator -------------------------------------------------

    @property
    def rng(self) -> random.Random:
        return self._rng

    @property
    def api(self) -> OpenApi:
        return self._api

    @property
    def known_ids(self) -> list[str]:
        return self._known

    def valid_token(self) -> str:
        return self._rng.choice(self._tokens)

    def bad_authorization(self) -> str:
        return self._rng.choice(self._bad_authorization)


class _Draft:
    """One request being built: plausible first, then broken by apply_flaw()."""

    def __init__(self, op: Operation, generator: MalformedHttpRequests) -> None:
        self.op = op
        self.gen = generator
        rng = generator.rng
        self.method = op.method
        self.path_values: dict[str, str] = {}
        self.query: list[tuple[str, str]] = []
        self.headers: dict[str, str] = {"Authorization": f"Bearer {generator.valid_token()}"}
        self.raw_path: str | None = None
        self.raw_query: str | None = None
        for parameter in op.parameters:
            name = parameter["name"]
            schema = parameter.get("schema", {})
            where = parameter["in"]
            if where == "path":
                self.path_values[name] = self._text(generator.plausible(schema, name))
            elif where == "query" and (parameter.get("required") or rng.random() < 0.4):
                if "<key>" in name:
                    continue
                value = generator.plausible(schema, name)
                values = value if isinstance(value, list) else [value]
                self.query.extend((name, self._text(v)) for v in values)
        self.content_type: str | None = None
        self.document: Json = None
        self.raw_body: bytes | None = None
        if op.bodies:
            self.content_type = rng.choice(sorted(op.bodies))
            schema = op.bodies[self.content_type]
            if self.content_type == "text/csv":
                self.raw_body = b"last_name,email\nTuring,alan@example.com\n"
            else:
                self.document = generator.plausible(schema)

    @staticmethod
    def _text(value: Json) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        return value if isinstance(value, str) else json.dumps(value)

    # --- flaws --------------------------------------------------------------------------------

    def apply_flaw(self) -> str:
        rng = self.gen.rng
        kinds = ["path", "query", "auth", "headers", "method"]
        if self.op.bodies:
            kinds += ["body", "body", "body", "content-type"]
        if not self.op.parameters:
            kinds.remove("path")
        kind = rng.choice(kinds)
        return getattr(self, f"_flaw_{kind.replace('-', '_')}")()

    def _flaw_path(self) -> str:
        rng = self.gen.rng
        roll = rng.random()
        if roll < 0.6 and self.path_values:
            name = rng.choice(sorted(self.path_values))
            value = rng.choice(
                [
                    junk.bad_id(rng, self.gen.known_ids),
                    "..",
                    "%2e%2e",
                    "a/b",
                    junk.junk_text(rng),
                    junk.oversized_text(rng),
                    junk.impossible_date_text(rng),
                    junk.bad_period(rng),
                ]
            )
            self.path_values[name] = value
            return f"path {name}={value!r:.40}"
        if roll < 0.75:
            self.raw_path = self._path() + rng.choice(
                ["/", "//", "/extra", ":nope", "%00", "%ff%fe", "%zz", ";x=1"]
            )
            return f"path suffix {self.raw_path[-6:]!r}"
        self.raw_path = rng.choice(
            [
                "/v1/nope",
                "/v2/opportunities",
                "/v1//opportunities",
                "/v1/opportunities:",
                "/%2e%2e/etc/passwd",
                "/v1/" + "a/" * 300,
                "/v1/" + quote(junk.junk_text(rng), safe=""),
                "/v1/reports/%ff/export",
            ]
        )
        return f"no route {self.raw_path[:30]!r}"

    def _flaw_query(self) -> str:
        rng = self.gen.rng
        query_parameters = [p for p in self.op.parameters if p["in"] == "query" and "<key>" not in p["name"]]
        roll = rng.random()
        if roll < 0.5 and query_parameters:
            parameter = rng.choice(query_parameters)
            value = rng.choice(
                [
                    "abc",
                    "-1",
                    "1e10",
                    "99999999999999999999",
                    "1.5",
                    "",
                    "true",
                    "NOPE",
                    junk.impossible_date_text(rng),
                    junk.junk_text(rng),
                    junk.oversized_text(rng),
                ]
            )
            self.query = [(k, v) for k, v in self.query if k != parameter["name"]]
            self.query.append((parameter["name"], value))
            if rng.random() < 0.3:
                self.query.append((parameter["name"], junk.junk_text(rng)))
            return f"query {parameter['name']}={value!r:.40}"
        if roll < 0.75:
            self.query.append(
                (
                    rng.choice(["nope", "page_size[]", "filter.", "filter.nope", "param.", "$where", ""]),
                    junk.junk_text(rng),
                )
            )
            return "unknown query parameter"
        self.raw_query = rng.choice(
            ["%zz", "a=%ff%fe", "=&&=", "a" * 20_000, "page_size=1&page_size=2&page_size=x", "%00=%00"]
        )
        return f"raw query {self.raw_query[:20]!r}"

    def _flaw_auth(self) -> str:
        rng = self.gen.rng
        roll = rng.random()
        if roll < 0.15:
            self.headers.pop("Authorization", None)
            return "no token"
        if roll < 0.3:
            self.headers.pop("Authorization", None)
            self.headers["Cookie"] = rng.choice(
                [
                    "__Host-salesplane_session.0=junk",
                    "salesplane_session=" + "x" * 5000,
                    "a=b; =; ;;",
                    "__Host-salesplane_session.0=...",
                ]
            )
            return "junk session cookie"
        value = self.gen.bad_authorization()
        self.headers["Authorization"] = value
        return f"authorization {value[:24]!r}"

    def _flaw_headers(self) -> str:
        rng = self.gen.rng
        name, value = rng.choice(
            [
                (
                    "If-Match",
                    rng.choice(
                        ['"abc"', 'W/"1"', '"-1"', '"99999999999999999999"', "junk", '"0"', '""', '"1", "2"']
                    ),
                ),
                ("Accept", rng.choice(["application/xml", "text/csv", "image/png", "*/*;q=x", ""])),
                ("Origin", rng.choice(["null", "http://evil.example", "://", "x" * 3000])),
                ("X-Request-Id", rng.choice(["\t", "x" * 5000, "a b c", "../../"])),
                ("X-Forwarded-For", rng.choice(["999.1.1.1", "junk", ", , ,"])),
                ("Accept-Language", rng.choice(["xx-XX;q=2", "*", "pl;q=abc", "," * 100])),
            ]
        )
        self.headers[name] = value
        return f"header {name}: {value[:30]!r}"

    def _flaw_method(self) -> str:
        rng = self.gen.rng
        allowed = self.gen.api.methods_by_path.get(self.op.path, set())
        others = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE") if m not in allowed]
        self.method = rng.choice([*others, *ODD_METHODS]) if others else rng.choice(ODD_METHODS)
        return f"method {self.method}"

    def _flaw_content_type(self) -> str:
        rng = self.gen.rng
        self.content_type = rng.choice(
            [
                None,
                "text/plain",
                "application/xml",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/json; charset=utf-16",
                "json",
                "*/*",
                "application/merge-patch+json" if self.op.method != "PATCH" else "application/octet-stream",
                "text/csv" if self.content_type != "text/csv" else "application/json",
            ]
        )
        return f"content type {self.content_type!r}"

    def _flaw_body(self) -> str:
        rng = self.gen.rng
        roll = rng.random()
        if self.content_type == "text/csv":
            self.raw_body = rng.choice(
                [
                    b'last_name\n"unterminated\n',
                    b"\xff\xfe\x00",
                    b"a,b\n" + b"x," * 5000 + b"\n",
                    b"",
                    b"\xef\xbb\xbf\n\n",
                    # Many lines under a header that names no column: refused before any is read.
                    b"nope,nada\n" + b"x,y\n" * 50_000,
                ]
            )
            return "junk CSV"
        if roll < 0.45 and isinstance(self.document, dict | list):
            return self._flaw_in_document()
        if roll < 0.55:
            self.document = rng.choice([[], "x", 1, None, True, [self.document]])
            return f"top-level {type(self.document).__name__}"
        text = json.dumps(self.document)
        broken = rng.choice(
            [
                ("truncated", text[: max(1, len(text) // 2)]),
                ("trailing comma", text[:-1] + ",}" if text.endswith("}") else text + ","),
                ("single quotes", text.replace('"', "'")),
                ("comment", "/* x */" + text),
                ("NaN", '{"amount": NaN, "x": Infinity}'),
                ("unquoted keys", "{name: 1}"),
                ("empty body", ""),
                ("lone surrogate", '{"name": "\\ud800"}'),
                ("control character", '{"name": "a\x01b"}'),
                ("duplicate keys", '{"name": "a", "name": 5}'),
                ("deep nesting", "[" * 100_000 + "]" * 100_000),
                ("deep objects", '{"a":' * 5_000 + "1" + "}" * 5_000),
                ("huge number", '{"page_size": 1' + "0" * 5000 + "}"),
                ("past the size limit", '{"name": "' + "x" * junk.OVERSIZED_HTTP_BYTES + '"}'),
            ]
        )
        self.raw_body = broken[1].encode()
        if rng.random() < 0.15:
            self.raw_body = (
                rng.choice([b"\xef\xbb\xbf", b"\xff", b""]) + self.raw_body + rng.choice([b"\xc3\x28", b""])
            )
        return f"broken JSON: {broken[0]}"

    def _flaw_in_document(self) -> str:
        rng = self.gen.rng
        paths: list[tuple[Json, Json]] = []

        def walk(node: Json, depth: int) -> None:
            if depth > 4:
                return
            if isinstance(node, dict):
                for key, value in node.items():
                    paths.append((node, key))
                    walk(value, depth + 1)
            elif isinstance(node, list):
                for index, value in enumerate(node):
                    paths.append((node, index))
                    walk(value, depth + 1)

        walk(self.document, 0)
        roll = rng.random()
        if roll < 0.15 and isinstance(self.document, dict):
            self.document[rng.choice(["nope", "", "__proto__", junk.junk_text(rng)])] = junk.junk_text(rng)
            return "unknown field"
        if roll < 0.3 and isinstance(self.document, dict) and self.document:
            removed = rng.choice(sorted(self.document))
            del self.document[removed]
            return f"without {removed}"
        if not paths:
            self.document = {"nope": junk.junk_text(rng)}
            return "unknown field in an empty body"
        owner, key = rng.choice(paths)
        label, value = self.gen.malformed_value(owner[key], str(key))
        owner[key] = value
        return label

    # --- the finished request -----------------------------------------------------------------

    def _path(self) -> str:
        path = self.op.path
        for name, value in self.path_values.items():
            path = path.replace("{" + name + "}", quote(value, safe=""))
        return path

    def finish(self, flaw: str) -> HttpCase:
        path = self.raw_path if self.raw_path is not None else self._path()
        if self.raw_query is not None:
            query = self.raw_query
        else:
            query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in self.query)
        url = path + (f"?{query}" if query else "")
        body = b""
        if self.raw_body is not None:
            body = self.raw_body
        elif self.op.bodies:
            body = json.dumps(self.document).encode()
        headers = dict(self.headers)
        if self.content_type is not None and (body or self.op.bodies):
            headers["Content-Type"] = self.content_type
        # http.client sends header values as Latin-1: keep them so (a non-Latin-1 value is refused
        # by the client, never reaching the gateway).
        cleaned = tuple((k, v.encode("latin-1", "replace").decode("latin-1")) for k, v in headers.items())
        return HttpCase(self.method, url, cleaned, body, self.op.name, flaw)
