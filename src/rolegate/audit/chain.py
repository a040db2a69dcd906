"""The hash chain: each chain's events, in order, each sealing the one before it.

Every tenant has one chain; events about no tenant (accounts, signing keys) form the global
chain, :data:`GLOBAL_CHAIN`. An event's ``hash`` is SHA-256 over the canonical serialisation of
its fields, ``prev`` (the previous event's hash) among them, so editing, deleting, inserting or
reordering an event breaks the link to the next one. The format is frozen: ``v`` names it, and a
different serialisation would need a new ``v``. docs/audit.md verifies it in 20 lines of Python.

Pure: no database. :class:`ChainWalk` is fed rows in ``seq`` order and reports the first break.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

FORMAT: Final = 1
GENESIS: Final = "0" * 64  # the ``prev`` of a chain's first event
GLOBAL_CHAIN: Final = UUID(int=0)  # the chain of events about no tenant


def chain_of(tenant_id: UUID | None) -> UUID:
    """The chain an event of ``tenant_id`` (None: of no tenant) belongs to."""
    return GLOBAL_CHAIN if tenant_id is None else tenant_id


def timestamp(at: datetime) -> str:
    """``at`` as the chain writes it: UTC, microseconds, ``Z`` (a naive value is UTC)."""
    aware = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True, slots=True)
class LinkFields:
    """Everything an event's hash covers."""

    id: UUID
    chain: UUID
    seq: int
    prev: str
    occurred_at: datetime
    tenant: UUID | None
    actor: str
    actor_ip: str | None
    user_agent: str | None
    request_id: str | None
    action: str
    target_type: str
    target_id: str
    outcome: str
    details: Mapping[str, Any]

    def canonical(self) -> bytes:
        """The bytes hashed: JSON, keys sorted, no spaces, UTF-8 (RFC 8785 for our values)."""
        document = {
            "v": FORMAT,
            "id": str(self.id),
            "chain": str(self.chain),
            "seq": self.seq,
            "prev": self.prev,
            "occurred_at": timestamp(self.occurred_at),
            "tenant": None if self.tenant is None else str(self.tenant),
            "actor": self.actor,
            "actor_ip": self.actor_ip,
            "user_agent": self.user_agent,
            "request_id": self.request_id,
            "action": self.action,
            "target_type": self.target_type,
            "target_id": self.target_id,
            "outcome": self.outcome,
            "details": self.details,
        }
        return json.dumps(
            document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode("utf-8")

    def digest(self) -> str:
        """The event's hash: hex SHA-256 of :meth:`canonical`."""
        return hashlib.sha256(self.canonical()).hexdigest()


@dataclass(frozen=True, slots=True)
class Break:
    """The first broken link of a chain: the event where it breaks and what is wrong."""

    event_id: UUID | None  # None when what is missing is past the last event
    seq: int
    problem: str


class ChainWalk:
    """Follows one chain event by event (``seq`` ascending) and keeps the first break.

    ``start`` is where the stored chain begins: after an anchor left by pruning, or at the
    genesis. Checked for each event: its number follows the previous one (nothing deleted,
    inserted or moved), its ``prev`` is the previous hash, and its stored hash is the hash of
    its fields (nothing edited).
    """

    def __init__(self, *, after_seq: int = 0, after_hash: str = GENESIS) -> None:
        self.seq, self.hash = after_seq, after_hash
        self.count = 0
        self.broken: Break | None = None

    def step(self, fields: LinkFields, stored_hash: str) -> bool:
        """Check the next event; False once the chain is broken (later events prove nothing)."""
        if self.broken is not None:
            return False
        if fields.seq != self.seq + 1:
            problem = (
                f"event {self.seq + 1} is missing (next stored is {fields.seq})"
                if fields.seq > self.seq + 1
                else f"event number {fields.seq} is out of order after {self.seq}"
            )
            self.broken = Break(fields.id, fields.seq, problem)
        elif fields.prev != self.hash:
            self.broken = Break(fields.id, fields.seq, "does not follow the event before it")
        elif fields.digest() != stored_hash:
            self.broken = Break(fields.id, fields.seq, "was changed after it was written")
        else:
            self.seq, self.hash = fields.seq, stored_hash
            self.count += 1
            return True
        return False

    def end(self, *, head_seq: int, head_hash: str) -> Break | None:
        """The first break, including a tail cut off before the chain head (the last event
        written, as recorded when it was written)."""
        if self.broken is None and (self.seq, self.hash) != (head_seq, head_hash):
            problem = (
                f"events {self.seq + 1}..{head_seq} are missing from the end"
                if head_seq > self.seq
                else f"the chain head ({head_seq}) does not match the last event ({self.seq})"
            )
            self.broken = Break(None, self.seq + 1, problem)
        return self.broken
