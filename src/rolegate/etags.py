"""Entity tags for optimistic concurrency: read an object with its tag, change it only if the
tag still matches (HTTP ETag / If-Match, RFC 9110 §13.1.1), or get :class:`PreconditionFailed`.

A tag is a digest of everything the object's value shows (not of a clock), so any change to it,
its grants included, changes the tag, and two reads of an unchanged object agree.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from rolegate.errors import PreconditionFailed


def entity_tag(entity: Any) -> str:
    """The strong entity tag of a value returned by a service (its ``revision`` left out)."""
    fields = asdict(entity)
    fields.pop("revision", None)
    text = json.dumps(fields, sort_keys=True, default=str, separators=(",", ":"))
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def require_match(if_match: str | None, current: Any) -> None:
    """Nothing when ``if_match`` is None, ``*`` or lists the tag of ``current``; otherwise
    :class:`PreconditionFailed` carrying the current tag."""
    if if_match is None:
        return
    tag = entity_tag(current)
    offered = {part.strip() for part in if_match.split(",")}  # strong comparison: W/ never matches
    if "*" not in offered and tag not in offered:
        raise PreconditionFailed(tag)
