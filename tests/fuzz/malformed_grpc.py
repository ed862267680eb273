"""A seeded generator of malformed gRPC requests, derived from the services' descriptors.

Each request starts from a valid message of the RPC's input type (a template that names real
records, from rpc_fuzz.Pools, or one filled with real ids) and then gets at least one flaw:

- in the message: a field set to junk or oversized text, an id naming nothing or a record of another
  kind, an unknown enum number, an impossible date or instant, an edge integer, NaN, a bad currency,
  decimal or period, a field mask with unknown or nested paths, a junk report definition, an
  oversized or emptied list, a junk map, a required sub-message left out;
- on the wire (what a typed client cannot send, but a broken or hostile one can): invalid UTF-8 in a
  string field, a field with the wrong wire type, unknown fields, a truncated or garbage body, an
  unterminated varint, unbalanced groups, nesting past the parser's depth limit, now and then a
  message past the server's size limit;
- in the credentials: no token, a malformed, expired, tampered or foreign-signed one, one with roles
  the organisation does not have, an oversized subject.

Hypothesis' per-example overhead would dominate at 10,000 requests per API, so this is a plain
mutator over `random.Random(seed)`: the same seed gives the same requests.
"""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from salesplane_platform.identity import issue_token
from salesplane_testing.rpc_fuzz import Pools
from tests.fuzz import junk_values as junk

Metadata = tuple[tuple[str, str], ...]
# Malformed values of text fields with a format of their own, by a part of the field's name.
_TEXT_BY_NAME = {
    "time_of_day": ["25:00", "8", "08:60", "-1:00", "24:00", "08:15:00.5"],
    "time_zone": ["Mars/Olympus", "UTC+25", "../../zoneinfo", "Europe/"],
    "email": ["no-at-sign", "a@", "@b", "a@b@c", "a b@c.d", "x" * 300 + "@e.com"],
    "recipients": ["no-at-sign", "a@", "@b", "a@b@c", "a b@c.d", "x" * 300 + "@e.com"],
    "csv_text": [
        'last_name\n"unterminated\n',
        "\x00,\x00\n",
        "a,b\n" + "x," * 5000 + "\n",
        "",
        "\ufeff\n\n\n",
    ],
    "website": ["javascript:alert(1)", "http://", "ftp://x", "http://" + "a" * 3000 + ".com"],
    "country_code": ["", "gb", "XX", "GBR", "1"],
}
FieldPath = tuple[FieldDescriptor, ...]
MAX_PATH_DEPTH = 3
WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32 = 0, 1, 2, 5


# A flaw a valid request can have too (a boolean either way): never a request's only flaw.
WEAK = " (weak)"


@dataclass(frozen=True)
class BoolFlip:
    value: bool


@dataclass(frozen=True)
class GrpcCase:
    method: MethodDescriptor
    payload: bytes
    metadata: Metadata
    flaw: str

    @property
    def target(self) -> str:
        return f"{self.method.containing_service.name}.{self.method.name}"

    def describe(self) -> str:
        shown = self.payload[:300]
        return f"{self.target} [{self.flaw}] payload {len(self.payload)} bytes: {shown!r}"


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _length_delimited(number: int, data: bytes) -> bytes:
    return _tag(number, WIRE_LEN) + _varint(len(data)) + data


def _is_map(field: FieldDescriptor) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def _is_id(name: str) -> bool:
    return name == "id" or name.endswith("_id") or name.endswith("_ids") or name in ("owner", "user")


class BadCredentials:
    """Authorization metadata that must never get a call through."""

    def __init__(self, secret: str, rng: random.Random) -> None:
        valid = issue_token(secret, "root", ["admin"])
        head, payload, _signature = valid.split(".")
        unsigned_head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode())
        self.variants: list[tuple[str, Metadata]] = [
            ("no token", ()),
            ("empty authorization", (("authorization", ""),)),
            ("bearer without token", (("authorization", "Bearer"),)),
            ("junk token", (("authorization", "Bearer not-a-token"),)),
            ("basic credentials", (("authorization", "Basic dXNlcjpwYXNzd29yZA=="),)),
            (
                "expired token",
                (("authorization", f"Bearer {issue_token(secret, 'root', ['admin'], ttl_seconds=-60)}"),),
            ),
            (
                "foreign signature",
                (
                    (
                        "authorization",
                        f"Bearer {issue_token('another-secret-of-at-least-32-bytes', 'root', ['admin'])}",
                    ),
                ),
            ),
            ("tampered signature", (("authorization", f"Bearer {head}.{payload}.{_signature[::-1]}"),)),
            ("alg none", (("authorization", f"Bearer {unsigned_head.decode().rstrip('=')}.{payload}."),)),
            ("three dots", (("authorization", "Bearer ..."),)),
            ("unknown role", (("authorization", f"Bearer {issue_token(secret, 'root', ['wizard'])}"),)),
            ("oversized subject", (("authorization", f"Bearer {issue_token(secret, 's' * 3000, ['rep'])}"),)),
            ("oversized token", (("authorization", "Bearer " + "A" * 8000),)),
        ]
        self._rng = rng

    def draw(self) -> tuple[str, Metadata]:
        return self._rng.choice(self.variants)


class MalformedGrpcRequests:
    """draw() gives the next malformed request to one of the services' RPCs (client-streaming RPCs
    excluded: none of the APIs has one)."""

    def __init__(
        self,
        services: Sequence[ServiceDescriptor],
        *,
        pools: Pools,
        callers: Sequence[Metadata],
        secret: str,
        seed: int,
    ) -> None:
        self._rng = random.Random(seed)
        self._methods = [m for s in services for m in s.methods if not m.client_streaming]
        self._pools = pools
        self._callers = list(callers)
        self._bad_credentials = BadCredentials(secret, self._rng)
        self._known_ids = [*pools.ids, *pools.user_ids]
        self._paths: dict[str, list[FieldPath]] = {}

    @property
    def methods(self) -> list[MethodDescriptor]:
        return list(self._methods)

    def draw(self) -> GrpcCase:
        rng = self._rng
        method = rng.choice(self._methods)
        message = self._base(method.input_type)
        metadata = rng.choice(self._callers)
        roll = rng.random()
        if not self._field_paths(method.input_type):
            # An empty request type has nothing inside to break: its flaw is on the wire or in
            # the credentials.
            roll = 0.64 + 0.36 * roll
        flaws: list[str] = []
        if roll < 0.64:
            for _ in range(rng.choice([1, 1, 1, 2, 3])):
                flaws.append(self._flaw_in_message(message))
            if all(flaw.endswith(WEAK) for flaw in flaws):
                flaws.append(self._flaw_in_message(message))
            payload = message.SerializeToString()
        elif roll < 0.86:
            flaw, payload = self._flaw_on_wire(message)
            flaws.append(flaw)
        else:
            flaw, metadata = self._bad_credentials.draw()
            flaws.append(flaw)
            if rng.random() < 0.5:
                flaws.append(self._flaw_in_message(message))
            payload = message.SerializeToString()
        return GrpcCase(method, payload, metadata, "; ".join(flaws))

    # --- the valid starting point -------------------------------------------------------------

    def _base(self, descriptor: Descriptor) -> Message:
        message_class = GetMessageClass(descriptor)
        message = message_class()
        templates = self._pools.templates.get(descriptor.full_name)
        if templates:
            message.CopyFrom(self._rng.choice(templates))
            return message
        for field in descriptor.fields:
            if field.type != FieldDescriptor.TYPE_STRING or self._rng.random() < 0.3:
                continue
            plausible = self._plausible_text(field)
            if plausible is None:
                continue
            if field.is_repeated:
                getattr(message, field.name).append(plausible)
            else:
                setattr(message, field.name, plausible)
        return message

    def _plausible_text(self, field: FieldDescriptor) -> str | None:
        name = field.name
        if self._pools.by_field.get(name):
            return self._rng.choice(self._pools.by_field[name])
        if "user" in name and self._pools.user_ids:
            return self._rng.choice(self._pools.user_ids)
        if _is_id(name) and self._pools.ids:
            return self._rng.choice(self._pools.ids)
        return None

    # --- flaws in the message -----------------------------------------------------------------

    def _field_paths(self, descriptor: Descriptor) -> list[FieldPath]:
        """Every field reachable from the message, nested messages up to MAX_PATH_DEPTH deep."""
        cached = self._paths.get(descriptor.full_name)
        if cached is not None:
            return cached
        paths: list[FieldPath] = []

        def walk(owner: Descriptor, prefix: FieldPath) -> None:
            for field in owner.fields:
                path = (*prefix, field)
                paths.append(path)
                nested = field.message_type
                if (
                    nested is not None
                    and not _is_map(field)
                    and not nested.full_name.startswith("google.protobuf.")
                    and nested.full_name not in ("salesplane.common.v1.Date", "salesplane.common.v1.Money")
                    and len(path) < MAX_PATH_DEPTH
                ):
                    walk(nested, path)

        walk(descriptor, ())
        self._paths[descriptor.full_name] = paths
        return paths

    def _flaw_in_message(self, message: Message) -> str:
        paths = self._field_paths(message.DESCRIPTOR)
        if not paths:
            return "no fields to break"  # beside a bad credential only (see draw)
        path = self._rng.choice(paths)
        owner = message
        for step in path[:-1]:
            if step.is_repeated:
                container = getattr(owner, step.name)
                owner = container[self._rng.randrange(len(container))] if len(container) else container.add()
            else:
                owner = getattr(owner, step.name)
        field = path[-1]
        label = ".".join(step.name for step in path)
        try:
            return f"{label}: {self._set_malformed(owner, field)}"
        except (ValueError, TypeError) as refused:
            # protobuf refuses the value on the client side already (out of its type's range):
            # the field is left out instead.
            owner.ClearField(field.name)
            return f"{label}: left out ({refused})"

    def _set_malformed(self, owner: Message, field: FieldDescriptor) -> str:
        rng = self._rng
        if _is_map(field):
            return self._junk_map(owner, field)
        if field.is_repeated:
            container = getattr(owner, field.name)
            roll = rng.random()
            if roll < 0.25:
                owner.ClearField(field.name)
                return "emptied list"
            if field.message_type is None:
                if roll < 0.45:
                    value = self._malformed_scalar(field)
                    value = value.value if isinstance(value, BoolFlip) else value
                    long_value = isinstance(value, (str, bytes)) and len(value) > 1000
                    container.extend([value] * (2 if long_value else rng.choice([2, 200, 1500])))
                    return f"oversized list of {value!r:.40}"
                value = self._malformed_scalar(field)
                container.append(value.value if isinstance(value, BoolFlip) else value)
                return "junk element"
            element = container.add()
            if roll < 0.45:
                for _ in range(rng.choice([200, 1500])):
                    container.add().CopyFrom(element)
                return "oversized list of empty elements"
            inner = [f for f in field.message_type.fields]
            if not inner or field.message_type.full_name.startswith("google.protobuf."):
                return self._set_well_known(element, field.message_type) if inner else "empty element"
            return "element " + self._set_malformed(element, rng.choice(inner))
        if field.message_type is not None:
            child = getattr(owner, field.name)
            known = self._set_well_known(child, field.message_type)
            if known:
                return known
            if rng.random() < 0.5:
                owner.ClearField(field.name)
                return "left out"
            child.Clear()
            child.SetInParent()
            return "empty message"
        value = self._malformed_scalar(field)
        if isinstance(value, BoolFlip):
            setattr(owner, field.name, value.value)
            return f"{value.value}{WEAK}"
        setattr(owner, field.name, value)
        return f"{value!r:.60}"

    def _set_well_known(self, child: Message, descriptor: Descriptor) -> str:
        rng = self._rng
        name = descriptor.full_name
        if name == "salesplane.common.v1.Date":
            year, month, day = junk.impossible_date(rng)
            child.Clear()
            child.year, child.month, child.day = year, month, day  # type: ignore[attr-defined]
            return f"impossible date {year}-{month}-{day}"
        if name == "google.protobuf.Timestamp":
            seconds, nanos = junk.impossible_instant(rng)
            child.seconds, child.nanos = seconds, nanos  # type: ignore[attr-defined]
            return f"impossible instant {seconds}s {nanos}ns"
        if name == "salesplane.common.v1.Money":
            if rng.random() < 0.5:
                child.currency_code = junk.bad_currency(rng)  # type: ignore[attr-defined]
                return f"currency {child.currency_code!r}"  # type: ignore[attr-defined]
            child.amount_minor = rng.choice([-1, -(10**9), *junk.INT64])  # type: ignore[attr-defined]
            return f"amount_minor {child.amount_minor}"  # type: ignore[attr-defined]
        if name == "google.protobuf.FieldMask":
            return self._junk_mask(child)
        if name == "google.protobuf.Struct":
            return self._junk_struct(child)
        if name == "google.protobuf.Value":
            return self._junk_value(child, depth=0)
        return ""

    def _junk_mask(self, mask: Message) -> str:
        rng = self._rng
        paths = rng.choice(
            [
                ["nope"],
                [""],
                ["*"],
                ["a..b"],
                ["name.first"],
                ["id", "version", "create_time"],
                ["NAME"],
                [junk.junk_text(rng)],
                ["name"] * 50,
                [f"f{i}" for i in range(500)],
                ["amount.currency_code.x"],
            ]
        )
        mask.Clear()
        mask.paths.extend(paths)  # type: ignore[attr-defined]
        return f"mask {paths[:3]!r:.60}"

    def _junk_struct(self, struct: Message) -> str:
        rng = self._rng
        roll = rng.random()
        struct.Clear()
        if roll < 0.5:
            document = rng.choice(
                [
                    {"source": 5},
                    {"source": "nope"},
                    {"source": "opportunities", "dimensions": "owner"},
                    {"source": "opportunities", "measures": [{"aggregate": "sum", "field": "nope"}]},
                    {"source": "opportunities", "measures": [{"name": "x", "formula": "1 / / 2"}]},
                    {"source": "opportunities", "filters": {"op": "between", "values": [None, True]}},
                    {"source": "opportunities", "limit": -1, "dimensions": [{"field": "owner"}] * 40},
                    {"source": ["a", "b"], "sort": {"by": None}},
                    {junk.junk_text(rng): junk.junk_text(rng)},
                    {"source": "leads", "layout": {"rows": 10**15}},
                ]
            )
            struct.update(document)  # type: ignore[attr-defined]
            return f"definition {document!r:.60}"
        if roll < 0.75:
            self._junk_value(struct.fields["source"], depth=0)  # type: ignore[attr-defined]
            return "definition with a junk source"
        for index in range(rng.choice([300, 3000])):
            struct.fields[f"k{index}"].string_value = "v"  # type: ignore[attr-defined]
        return "oversized definition"

    def _junk_value(self, value: Message, depth: int) -> str:
        rng = self._rng
        roll = rng.random()
        value.Clear()
        if roll < 0.2:
            value.number_value = rng.choice([float("nan"), float("inf"), float("-inf"), 1e308, -0.0])  # type: ignore[attr-defined]
            return f"number {value.number_value}"  # type: ignore[attr-defined]
        if roll < 0.4:
            value.string_value = junk.junk_text(rng)  # type: ignore[attr-defined]
            return "junk text"
        if roll < 0.55 and depth < 3:
            # Long only at the top: a long list of long lists would be a memory test of the client.
            for _ in range(rng.choice([2, 500]) if depth == 0 else 2):
                self._junk_value(value.list_value.values.add(), depth + 1)  # type: ignore[attr-defined]
            return "list of junk"
        if roll < 0.7:
            value.null_value = 0  # type: ignore[attr-defined]
            return "null"
        if roll < 0.85 and depth < 3:
            self._junk_value(value.struct_value.fields[junk.junk_text(rng)], depth + 1)  # type: ignore[attr-defined]
            return "object of junk"
        value.bool_value = True  # type: ignore[attr-defined]
        return "true"

    def _junk_map(self, owner: Message, field: FieldDescriptor) -> str:
        rng = self._rng
        container = getattr(owner, field.name)
        value_field = field.message_type.fields_by_name["value"]
        count = rng.choice([1, 1, 3, 1000])
        for index in range(count):
            key = junk.junk_text(rng) if count < 10 else f"k{index}"
            if value_field.message_type is not None:
                entry = container[key]
                inner = list(value_field.message_type.fields)
                if inner and count < 10:
                    self._set_malformed(entry, rng.choice(inner))
            else:
                container[key] = junk.junk_text(rng) if value_field.type == FieldDescriptor.TYPE_STRING else 0
        return f"map with {count} junk entries"

    def _malformed_scalar(self, field: FieldDescriptor) -> object:
        rng = self._rng
        kind = field.type
        name = field.name
        if kind == FieldDescriptor.TYPE_STRING:
            return self._malformed_text(name)
        if kind == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.choice([0, 7, 300, 70_000]))
        if kind == FieldDescriptor.TYPE_BOOL:
            return BoolFlip(rng.random() < 0.5)
        if kind == FieldDescriptor.TYPE_ENUM:
            enum_type = field.enum_type
            assert enum_type is not None
            return junk.unknown_enum_number(rng, [v.number for v in enum_type.values])
        if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
            return rng.choice([float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, -1.0])
        if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
            return junk.edge_integer(rng, junk.INT32)
        if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
            return rng.choice([0, 2**32 - 1, 2**31])
        if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
            return rng.choice([0, junk.UINT64_MAX, 2**63])
        return junk.edge_integer(rng, junk.INT64)

    def _malformed_text(self, name: str) -> str:
        rng = self._rng
        if rng.random() < 0.12:
            return junk.oversized_text(rng)
        if _is_id(name):
            return junk.bad_id(rng, self._known_ids)
        if rng.random() < 0.25:
            return junk.junk_text(rng)
        if name.endswith("currency_code") or name == "currency":
            return junk.bad_currency(rng)
        if "period" in name:
            return junk.bad_period(rng)
        if name in ("rate", "probability_text") or name.endswith("_decimal"):
            return junk.bad_decimal(rng)
        if name in ("as_of", "from", "to") or name.endswith("_date"):
            return junk.impossible_date_text(rng)
        if name.endswith("page_token"):
            return base64.urlsafe_b64encode(rng.randbytes(rng.choice([3, 24, 200]))).decode()
        for hint, choices in _TEXT_BY_NAME.items():
            if hint in name:
                return rng.choice(choices)
        return junk.junk_text(rng)

    # --- flaws on the wire --------------------------------------------------------------------

    def _flaw_on_wire(self, message: Message) -> tuple[str, bytes]:
        rng = self._rng
        valid = message.SerializeToString()
        fields: list[FieldDescriptor] = list(message.DESCRIPTOR.fields)
        strings = [f for f in fields if f.type == FieldDescriptor.TYPE_STRING]
        roll = rng.random()
        if roll < 0.2 and strings:
            field = rng.choice(strings)
            bad = rng.choice([b"\xff\xfe", b"\xc3\x28", b"ok\xed\xa0\x80", b"\xf8\x88\x80\x80\x80"])
            return f"invalid UTF-8 in {field.name}", valid + _length_delimited(field.number, bad)
        if roll < 0.35 and fields:
            field = rng.choice(fields)
            natural = (
                WIRE_LEN
                if field.type
                in (FieldDescriptor.TYPE_STRING, FieldDescriptor.TYPE_BYTES, FieldDescriptor.TYPE_MESSAGE)
                else WIRE_VARINT
            )
            wrong = rng.choice([t for t in (WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_I32) if t != natural])
            body = {
                WIRE_VARINT: _varint(rng.getrandbits(40)),
                WIRE_I64: rng.randbytes(8),
                WIRE_LEN: _varint(3) + b"abc",
                WIRE_I32: rng.randbytes(4),
            }[wrong]
            return f"wire type {wrong} for {field.name}", valid + _tag(field.number, wrong) + body
        if roll < 0.45:
            number = rng.choice([1000, 12345, 536_870_911, 19_000])  # 19000-19999 are reserved numbers
            return f"unknown field {number}", valid + _length_delimited(
                number, rng.randbytes(rng.randint(0, 40))
            )
        if roll < 0.55:
            declared = rng.randint(5, 10_000)
            return "length past the end", valid + _tag(rng.choice([1, 2, 3]), WIRE_LEN) + _varint(
                declared
            ) + b"ab"
        if roll < 0.62:
            return "unterminated varint", valid + _tag(1, WIRE_VARINT) + b"\x80" * 11
        if roll < 0.72:
            return "garbage", rng.randbytes(rng.choice([1, 5, 64, 4096]))
        if roll < 0.8 and valid:
            cut = rng.randrange(len(valid))
            return f"truncated at {cut} of {len(valid)}", valid[:cut]
        if roll < 0.9:
            # Unknown groups are parsed (to find their end), so they count against the depth limit.
            depth = rng.choice([120, 400])
            number = rng.randint(900, 999)
            return f"groups nested {depth} deep", valid + _tag(number, 3) * depth + _tag(number, 4) * depth
        if roll < 0.99:
            return "unbalanced group tags", valid + _tag(rng.randint(1, 5), 3) + _tag(rng.randint(6, 9), 4)
        return "past the size limit", valid + _length_delimited(999, b"\x00" * junk.OVERSIZED_GRPC_BYTES)
