"""Property-based fuzzing of a gRPC service from its descriptors.

Hypothesis builds requests for every unary RPC of a service straight from the protobuf message
descriptors: well-formed values drawn from pools of real ids and names (so calls reach existing
records), boundary numbers, unknown enum values, impossible dates, junk and oversized strings,
random field masks. Each request is sent by a random caller. Two properties must hold whatever
comes in:

- the status is never INTERNAL, UNKNOWN or DATA_LOSS (bad input is the caller's error, not a crash);
- a call that fails changes nothing: the service's database, outbox included, is exactly as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, TextClause, inspect, select, text

CRASH_CODES = frozenset({grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS})
INT32 = (-(2**31), 2**31 - 1)
INT64 = (-(2**63), 2**63 - 1)
MAX_DEPTH = 3


@dataclass
class Pools:
    """Values worth drawing because they mean something to the service under test."""

    ids: list[str] = field(default_factory=list)
    user_ids: list[str] = field(default_factory=list)
    # Field name -> plausible values (stage names, currency codes, ...).
    by_field: dict[str, list[str]] = field(default_factory=dict)
    # Valid messages by full type name: mutated copies get past validation far more often than
    # messages built from nothing, so the deeper paths (and their writes) get exercised too.
    templates: dict[str, list[Message]] = field(default_factory=dict)

    def add_template(self, message: Message) -> None:
        self.templates.setdefault(message.DESCRIPTOR.full_name, []).append(message)


def _junk_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.just(""),
        st.text(max_size=12),
        st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=400),
        st.sampled_from(
            ["  ", "\x00", "' OR 1=1 --", "ÅÄÖ", "A" * 5000, "00000000-0000-0000-0000-000000000000"]
        ),
        st.uuids().map(str),
        st.uuids().map(lambda u: str(u).upper()),
    )


def _string(field_descriptor: FieldDescriptor, pools: Pools) -> st.SearchStrategy[str]:
    name = field_descriptor.name
    choices: list[st.SearchStrategy[str]] = [_junk_text()]
    if pools.by_field.get(name):
        choices.append(st.sampled_from(pools.by_field[name]))
    if name.endswith("user_id") or name.endswith("user_ids") or name == "owner":
        if pools.user_ids:
            choices.append(st.sampled_from(pools.user_ids))
    elif (name == "id" or name.endswith("_id") or name.endswith("_ids")) and pools.ids:
        choices.append(st.sampled_from(pools.ids))
    if name in ("currency_code",):
        choices.append(st.sampled_from(["USD", "EUR", "JPY", "BHD", "XXX", "usd", "EU"]))
    # Meaningful values twice as likely as junk, so calls get past validation often enough.
    meaningful = choices[1:]
    return st.one_of(*choices, *meaningful) if meaningful else choices[0]


def _integer(bounds: tuple[int, int]) -> st.SearchStrategy[int]:
    low, high = bounds
    return st.one_of(
        st.integers(min_value=-3, max_value=120),
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from([low, high, low + 1, high - 1, 0, -1]),
    )


def _scalar(field_descriptor: FieldDescriptor, pools: Pools) -> st.SearchStrategy[Any]:
    kind = field_descriptor.type
    if kind == FieldDescriptor.TYPE_STRING:
        return _string(field_descriptor, pools)
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind == FieldDescriptor.TYPE_ENUM:
        enum_type = field_descriptor.enum_type
        assert enum_type is not None, "an enum field always has its enum's descriptor"
        known = [value.number for value in enum_type.values]
        # Proto3 enums are open: a client can send a number the server has never heard of.
        return st.one_of(st.sampled_from(known), st.sampled_from([-1, 99, 2**31 - 1]))
    if kind in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_SINT32, FieldDescriptor.TYPE_SFIXED32):
        return _integer(INT32)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return _integer((0, 2**32 - 1)).filter(lambda v: v >= 0)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return _integer((0, 2**64 - 1)).filter(lambda v: v >= 0)
    return _integer(INT64)


def _field_mask(owner: Descriptor) -> st.SearchStrategy[Message]:
    from google.protobuf.field_mask_pb2 import FieldMask

    names: list[str] = []
    for candidate in owner.fields:
        if candidate.message_type is not None and candidate.name != "update_mask":
            names.extend(candidate.message_type.fields_by_name)
            names.extend(f"{candidate.name}.{n}" for n in candidate.message_type.fields_by_name)
        names.append(candidate.name)
    path = st.one_of(st.sampled_from(sorted(set(names))), st.text(max_size=10))
    return st.lists(path, max_size=4).map(lambda paths: FieldMask(paths=paths))


def message_strategy(descriptor: Descriptor, pools: Pools, depth: int = 0) -> st.SearchStrategy[Message]:
    """Requests of this type, each field independently set or left at its default."""
    message_class = GetMessageClass(descriptor)
    if descriptor.full_name == "google.protobuf.Timestamp":
        return st.builds(
            lambda s, n: message_class(seconds=s, nanos=n),
            st.integers(min_value=-(2**40), max_value=2**40),
            st.integers(min_value=-1, max_value=10**9),
        )
    if descriptor.full_name == "salesplane.common.v1.Date":
        return st.builds(
            lambda y, m, d: message_class(year=y, month=m, day=d),
            st.one_of(st.integers(min_value=1960, max_value=2210), st.sampled_from([0, -1, 10000])),
            st.integers(min_value=-1, max_value=13),
            st.integers(min_value=-1, max_value=32),
        )
    parts: dict[str, st.SearchStrategy[Any]] = {}
    for field_descriptor in descriptor.fields:
        value = _field_value(descriptor, field_descriptor, pools, depth)
        if value is not None:
            parts[field_descriptor.name] = st.one_of(st.none(), value)

    def build(values: Mapping[str, Any]) -> Message:
        message = message_class()
        for name, value in values.items():
            if value is None:
                continue
            target = message.DESCRIPTOR.fields_by_name[name]
            if target.is_repeated:
                container = getattr(message, name)
                if target.message_type is not None:
                    for item in value:
                        container.add().CopyFrom(item)
                else:
                    container.extend(value)
            elif target.message_type is not None:
                getattr(message, name).CopyFrom(value)
            else:
                setattr(message, name, value)
        return message

    generated = st.fixed_dictionaries({}, optional=parts).map(build)
    templates = pools.templates.get(descriptor.full_name)
    if not templates:
        return generated
    names = [f.name for f in descriptor.fields]

    def mutate(template: Message, donor: Message, replaced: list[str]) -> Message:
        message = message_class()
        message.CopyFrom(template)
        for name in replaced:
            message.ClearField(name)
            target = descriptor.fields_by_name[name]
            if target.is_repeated:
                getattr(message, name).extend(getattr(donor, name))
            elif target.message_type is not None:
                if donor.HasField(name):
                    getattr(message, name).CopyFrom(getattr(donor, name))
            else:
                setattr(message, name, getattr(donor, name))
        return message

    mutated = st.builds(
        mutate,
        st.sampled_from(templates),
        generated,
        st.lists(st.sampled_from(names), max_size=1),
    )
    return st.one_of(st.sampled_from(templates), mutated, generated)


def _field_value(
    owner: Descriptor, field_descriptor: FieldDescriptor, pools: Pools, depth: int
) -> st.SearchStrategy[Any] | None:
    if field_descriptor.message_type is not None:
        if field_descriptor.message_type.full_name == "google.protobuf.FieldMask":
            single: st.SearchStrategy[Any] = _field_mask(owner)
        elif depth >= MAX_DEPTH:
            return None
        else:
            single = message_strategy(field_descriptor.message_type, pools, depth + 1)
    else:
        single = _scalar(field_descriptor, pools)
    if field_descriptor.is_repeated:
        return st.lists(single, max_size=3)
    return single


def unary_methods(service: ServiceDescriptor) -> list[MethodDescriptor]:
    return [m for m in service.methods if not m.client_streaming and not m.server_streaming]


def call_method(
    channel: grpc.Channel, method: MethodDescriptor, request: Message, metadata: Sequence[tuple[str, str]]
) -> Message:
    callable_: grpc.UnaryUnaryMultiCallable[Message, Message] = channel.unary_unary(
        f"/{method.containing_service.full_name}/{method.name}",
        request_serializer=lambda m: m.SerializeToString(),
        response_deserializer=GetMessageClass(method.output_type).FromString,
    )
    return callable_(request, metadata=tuple(metadata), timeout=30)


def database_fingerprint(engine: Engine, *, ignore: Iterable[str] = ("alembic_version",)) -> str:
    """A digest of every row of every table: equal digests mean nothing was written."""
    skipped = set(ignore)
    metadata = MetaData()
    metadata.reflect(engine)
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in sorted(metadata.tables.values(), key=lambda t: t.name):
            if table.name in skipped:
                continue
            rows = sorted(repr(tuple(row)) for row in connection.execute(select(table)))
            digest.update(table.name.encode())
            for row in rows:
                digest.update(row.encode())
    return digest.hexdigest()


class TableFingerprints:
    """database_fingerprint table by table ("table" -> digest), with the schema reflected once: a
    long fuzzing run takes thousands of fingerprints, and on a small database reflecting is most of
    the cost of one. On PostgreSQL the server digests every table's rows (their text form, sorted)
    in one statement, instead of sending them all over. A table created or dropped since shows as a
    change of the "(tables)" entry."""

    def __init__(self, engine: Engine, *, ignore: Iterable[str] = ("alembic_version",)) -> None:
        self._engine = engine
        self._skipped = set(ignore)
        metadata = MetaData()
        metadata.reflect(engine)
        self._tables = sorted(
            (table for table in metadata.tables.values() if table.name not in self._skipped),
            key=lambda table: table.name,
        )
        self._on_server: TextClause | None = None
        if engine.dialect.name == "postgresql" and self._tables:
            preparer = engine.dialect.identifier_preparer
            self._on_server = text(
                " UNION ALL ".join(
                    f"SELECT {index} AS position,"
                    f" md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                    f" FROM {preparer.quote(table.name)} AS t"
                    for index, table in enumerate(self._tables)
                )
            )

    def __call__(self) -> dict[str, str]:
        digests: dict[str, str] = {}
        with self._engine.connect() as connection:
            names = sorted(set(inspect(connection).get_table_names()) - self._skipped)
            digests["(tables)"] = hashlib.sha256("\n".join(names).encode()).hexdigest()
            if self._on_server is not None:
                for position, digest in connection.execute(self._on_server):
                    digests[self._tables[position].name] = str(digest)
                return digests
            for table in self._tables:
                rows = hashlib.sha256()
                for row in sorted(repr(tuple(row)) for row in connection.execute(select(table))):
                    rows.update(row.encode())
                digests[table.name] = rows.hexdigest()
        return digests


@dataclass(frozen=True)
class Outcome:
    method: str
    code: grpc.StatusCode
    details: str


def check_call(
    channel: grpc.Channel,
    method: MethodDescriptor,
    request: Message,
    metadata: Sequence[tuple[str, str]],
    fingerprint: Callable[[], str],
) -> Outcome:
    """Send one request and assert the two properties; returns what happened."""
    before = fingerprint()
    try:
        call_method(channel, method, request, metadata)
    except grpc.RpcError as error:
        code = error.code()
        details = error.details() or ""
        assert code not in CRASH_CODES, f"{method.name} answered {code.name}: {details}\nrequest: {request}"
        after = fingerprint()
        assert after == before, f"{method.name} failed with {code.name} ({details}) but wrote to the database"
        return Outcome(method.name, code, details)
    return Outcome(method.name, grpc.StatusCode.OK, "")


def fuzz_every_rpc(
    channel: grpc.Channel,
    services: Sequence[ServiceDescriptor],
    *,
    pools: Pools,
    callers: Sequence[Sequence[tuple[str, str]]],
    fingerprint: Callable[[], str],
    examples_per_rpc: int = 60,
) -> dict[str, dict[str, int]]:
    """Run the properties against every unary RPC; returns status counts per RPC (for the log)."""
    seen: dict[str, dict[str, int]] = {}
    for service in services:
        for method in unary_methods(service):
            seen[f"{service.name}.{method.name}"] = _fuzz_one(
                channel, method, pools, callers, fingerprint, examples_per_rpc
            )
    return seen


def _fuzz_one(
    channel: grpc.Channel,
    method: MethodDescriptor,
    pools: Pools,
    callers: Sequence[Sequence[tuple[str, str]]],
    fingerprint: Callable[[], str],
    examples: int,
) -> dict[str, int]:
    from hypothesis import HealthCheck, given, settings

    counts: dict[str, int] = {}

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(request=message_strategy(method.input_type, pools), caller=st.sampled_from(list(callers)))
    def run(request: Message, caller: Sequence[tuple[str, str]]) -> None:
        outcome = check_call(channel, method, request, caller, fingerprint)
        counts[outcome.code.name] = counts.get(outcome.code.name, 0) + 1

    run()
    return counts
