"""Routes that never shadow each other.

`PUT /v1/quotas/alice/changes` used to be served as the quota of a period named "changes", because
`/v1/quotas/{user_id}/{period_id}` takes PUT and `/v1/quotas/{user_id}/changes` only GET. A path
parameter must not take a word that another route has as a literal segment in the same place: such
a path then matches only its own route, and a method that route lacks is a 405."""

from __future__ import annotations

import re
from collections.abc import Sequence

from werkzeug.routing import BaseConverter, Map

_PARAMETER = re.compile(r"\{(\w+)\}")


class SegmentConverter(BaseConverter):
    """One path segment up to a ":" (which starts a custom method such as `:close`), other than the
    words given (`<segment("changes"):period_id>`)."""

    def __init__(self, map: Map, *excluded: str) -> None:
        super().__init__(map)
        segment = r"[^/:]+"
        if excluded:
            words = "|".join(re.escape(word) for word in sorted(excluded))
            segment = rf"(?!(?:{words})(?![^/:])){segment}"
        self.regex = segment


def flask_rules(paths: Sequence[str]) -> dict[str, str]:
    """Each path template as a Flask rule whose parameters leave out the literal segments other
    templates have in the same place after the same beginning."""
    split = {path: path.split("/") for path in paths}
    rules: dict[str, str] = {}
    for path, segments in split.items():
        parts: list[str] = []
        for index, segment in enumerate(segments):
            name = _PARAMETER.fullmatch(segment)
            if name is None:
                parts.append(_PARAMETER.sub(r"<segment:\1>", segment))
                continue
            words = sorted(
                {
                    other[index].partition(":")[0]
                    for other in split.values()
                    if len(other) > index
                    and _PARAMETER.search(other[index].partition(":")[0]) is None
                    and other[index]
                    and _same_beginning(segments[:index], other[:index])
                }
            )
            arguments = ", ".join(repr(word) for word in words)
            parts.append(f"<segment({arguments}):{name[1]}>" if words else f"<segment:{name[1]}>")
        rules[path] = "/".join(parts)
    return rules


def _same_beginning(ours: Sequence[str], theirs: Sequence[str]) -> bool:
    """Whether two templates' first segments match the same paths (a parameter matches anything)."""
    return all(
        a == b or _PARAMETER.fullmatch(a) is not None or _PARAMETER.fullmatch(b) is not None
        for a, b in zip(ours, theirs, strict=True)
    )


def route_label(rule: str) -> str:
    """A Flask rule back as its template: `/v1/quotas/<segment("changes"):period_id>` is
    `/v1/quotas/{period_id}` (metrics name routes so)."""
    return re.sub(r"<(?:[^<>]*:)?(\w+)>", r"{\1}", rule)
