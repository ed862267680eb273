"""The comments of the .proto files, for the OpenAPI descriptions.

Generated Python carries no source info, so the comments are extracted once from a descriptor set
compiled with --include_source_info and kept in proto_comments.json, keyed by full name:
`salesplane.leads.v1.Lead`, `salesplane.leads.v1.Lead.email` (fields), `salesplane.leads.v1.LeadStatus`,
`salesplane.leads.v1.LeadStatus.LEAD_STATUS_NEW` (enum values), `salesplane.leads.v1.LeadService`,
`salesplane.leads.v1.LeadService.CreateLead` (methods). Regenerate after editing a .proto with
`uv run python gateway/scripts/gen_proto_comments.py`; a test fails while the file is stale."""

from __future__ import annotations

import functools
import json
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2

COMMENTS_FILE = "proto_comments.json"

# Field numbers in descriptor.proto that SourceCodeInfo location paths are made of.
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE = 4, 5, 6
_MESSAGE_FIELD, _MESSAGE_NESTED, _MESSAGE_ENUM = 2, 3, 4
_ENUM_VALUE = 2
_SERVICE_METHOD = 2


@functools.cache
def load_comments() -> dict[str, str]:
    text = resources.files(__package__).joinpath(COMMENTS_FILE).read_text(encoding="utf-8")
    return dict(json.loads(text))


def extract_comments(
    files: descriptor_pb2.FileDescriptorSet, packages_prefix: str = "salesplane."
) -> dict[str, str]:
    """Full name -> comment of every documented element of the files in the given packages."""
    found: dict[str, str] = {}
    for file in files.file:
        if not file.package.startswith(packages_prefix):
            continue
        names = dict(_element_names(file))
        for location in file.source_code_info.location:
            name = names.get(tuple(location.path))
            text = _clean(location.leading_comments or location.trailing_comments)
            if name is not None and text:
                found[name] = text
    return dict(sorted(found.items()))


def _element_names(file: descriptor_pb2.FileDescriptorProto) -> Iterator[tuple[tuple[int, ...], str]]:
    for index, message in enumerate(file.message_type):
        yield from _message_names(message, f"{file.package}.{message.name}", (_FILE_MESSAGE, index))
    for index, enum in enumerate(file.enum_type):
        yield from _enum_names(enum, f"{file.package}.{enum.name}", (_FILE_ENUM, index))
    for index, service in enumerate(file.service):
        name = f"{file.package}.{service.name}"
        yield (_FILE_SERVICE, index), name
        for number, method in enumerate(service.method):
            yield (_FILE_SERVICE, index, _SERVICE_METHOD, number), f"{name}.{method.name}"


def _message_names(
    message: descriptor_pb2.DescriptorProto, name: str, path: tuple[int, ...]
) -> Iterator[tuple[tuple[int, ...], str]]:
    yield path, name
    for index, field in enumerate(message.field):
        yield (*path, _MESSAGE_FIELD, index), f"{name}.{field.name}"
    for index, nested in enumerate(message.nested_type):
        yield from _message_names(nested, f"{name}.{nested.name}", (*path, _MESSAGE_NESTED, index))
    for index, enum in enumerate(message.enum_type):
        yield from _enum_names(enum, f"{name}.{enum.name}", (*path, _MESSAGE_ENUM, index))


def _enum_names(
    enum: descriptor_pb2.EnumDescriptorProto, name: str, path: tuple[int, ...]
) -> Iterator[tuple[tuple[int, ...], str]]:
    yield path, name
    for index, value in enumerate(enum.value):
        yield (*path, _ENUM_VALUE, index), f"{name}.{value.name}"


def _clean(comment: str) -> str:
    """Comment lines joined into paragraphs (a blank comment line separates them)."""
    paragraphs: list[list[str]] = [[]]
    for line in comment.strip().splitlines():
        if line.strip():
            paragraphs[-1].append(line.strip())
        elif paragraphs[-1]:
            paragraphs.append([])
    return "\n\n".join(" ".join(lines) for lines in paragraphs if lines)


def comments_of_protos(proto_root: Path) -> dict[str, str]:
    """Compiles every .proto under `proto_root` with grpc_tools' protoc (a development dependency,
    so imported only here) and extracts the comments."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    well_known = Path(protoc.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as scratch:
        output = Path(scratch) / "protos.binpb"
        arguments = [
            "protoc",
            f"--proto_path={proto_root}",
            f"--proto_path={well_known}",
            "--include_source_info",
            f"--descriptor_set_out={output}",
            *protos,
        ]
        if protoc.main(arguments) != 0:
            raise RuntimeError("protoc failed")
        return extract_comments(descriptor_pb2.FileDescriptorSet.FromString(output.read_bytes()))


def comments_json(comments: dict[str, str]) -> str:
    return json.dumps(comments, indent=1, ensure_ascii=False) + "\n"
