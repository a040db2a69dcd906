"""Writes audit entries into the caller's transaction, so a change and its event commit together,
each event chained to the one before it in its tenant's chain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final, cast
from uuid import UUID

from sqlalchemy import Table, insert, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from rolegate.audit.chain import GENESIS, LinkFields, chain_of
from rolegate.audit.origin import Origin
from rolegate.audit.redact import redact
from rolegate.db.models import AuditChainRecord, AuditEventRecord

_STAGED: Final = "rolegate.audit.staged"  # Session.info key: entries waiting for the commit
EVENTS: Final = cast(Table, AuditEventRecord.__table__)  # inserted through Core

SUCCESS: Final = "success"
FAILURE: Final = "failure"
DENIED: Final = "denied"


def outcome_of(action: str) -> str:
    """The outcome an action's verb implies: ``auth.login_failed`` failed, ``authz.denied`` and
    ``authz.escalation_denied`` were refused, anything else succeeded."""
    verb = action.rsplit(".", 1)[-1]
    if verb == "denied" or verb.endswith("_denied"):
        return DENIED
    if verb.endswith(("_failed", "_reused")):
        return FAILURE
    return SUCCESS


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One audited action; ``details`` hold before/after values and are redacted on write."""

    action: str  # dotted verb: "role.permission_granted"
    target_type: str
    target_id: str
    actor: str
    tenant_id: UUID | None = None  # None for global objects (users)
    details: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None  # None: as the action implies (outcome_of)


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """An entry with the time it happened and where it came from, waiting to be chained."""

    entry: AuditEntry
    at: datetime
    origin: Origin | None = None


class AuditRecorder:
    """Chains audit entries into a transaction that the caller commits.

    Entries are staged as the transaction goes and written by :meth:`write_staged` at its end:
    each chain's head row is locked only for the last moment before the commit, and always
    after the policy revision row (which changes take first), so writers never wait on each
    other in opposite orders.
    """

    def record(
        self, session: Session, entry: AuditEntry, *, at: datetime, origin: Origin | None = None
    ) -> None:
        """Stage ``entry`` in ``session``, at time ``at``; written by :meth:`write_staged`."""
        session.info.setdefault(_STAGED, []).append(PendingEvent(entry, at, origin))

    def write_staged(self, session: Session) -> int:
        """Write every entry staged in ``session``; returns how many."""
        staged: list[PendingEvent] = session.info.pop(_STAGED, [])
        return self.write(session, staged) if staged else 0

    def write(self, session: Session, pending: Sequence[PendingEvent]) -> int:
        """Chain and insert ``pending`` in ``session``'s transaction, in order within each
        chain; chains are locked in a fixed order (by id), so two writers cannot deadlock.
        Returns how many events were written."""
        by_chain: dict[UUID, list[PendingEvent]] = {}
        for item in pending:
            by_chain.setdefault(chain_of(item.entry.tenant_id), []).append(item)
        for chain in sorted(by_chain):
            _append(session, chain, by_chain[chain])
        return len(pending)


def _append(session: Session, chain: UUID, items: list[PendingEvent]) -> None:
    """Append ``items`` to ``chain``, holding its head row's lock until the commit."""
    seq, prev = _claim(session, chain, len(items))
    rows = []
    for item in items:
        seq += 1
        row = _event_row(item, chain, seq, prev)
        rows.append(row)
        prev = row["hash"]
    # One multi-row Core INSERT of plain rows, no ORM objects: several times faster for the
    # decision trail's batches. A failure (a trigger, a full disk) raises here, in the
    # transaction.
    session.connection().execute(insert(EVENTS), rows)
    session.execute(
        update(AuditChainRecord).where(AuditChainRecord.chain_id == chain).values(hash=prev)
    )


def _claim(session: Session, chain: UUID, count: int) -> tuple[int, str]:
    """Reserve ``count`` numbers after the chain's head, locking the head row (made on first
    use); returns the number and hash of the event before them."""
    claim = (
        update(AuditChainRecord)
        .where(AuditChainRecord.chain_id == chain)
        .values(seq=AuditChainRecord.seq + count)
        .returning(AuditChainRecord.seq, AuditChainRecord.hash)
    )
    claimed = session.execute(claim).one_or_none()
    if claimed is None:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        session.execute(
            dialect.insert(AuditChainRecord)
            .values(chain_id=chain, seq=0, hash=GENESIS)
            .on_conflict_do_nothing(index_elements=["chain_id"])
        )
        claimed = session.execute(claim).one()
    return claimed.seq - count, claimed.hash


def _event_row(item: PendingEvent, chain: UUID, seq: int, prev: str) -> dict[str, Any]:
    entry, origin = item.entry, item.origin or Origin()
    fields = LinkFields(
        id=uuid.uuid4(),
        chain=chain,
        seq=seq,
        prev=prev,
        occurred_at=item.at,
        tenant=entry.tenant_id,
        actor=entry.actor,
        actor_ip=origin.ip,
        user_agent=origin.user_agent,
        request_id=origin.request_id,
        action=entry.action,
        target_type=entry.target_type,
        target_id=entry.target_id,
        outcome=entry.outcome or outcome_of(entry.action),
        details=_json_safe(redact(entry.details)),
    )
    return {
        "id": fields.id,
        "chain_id": chain,
        "seq": seq,
        "prev_hash": prev,
        "hash": fields.digest(),
        "occurred_at": fields.occurred_at,
        "tenant_id": fields.tenant,
        "actor": fields.actor,
        "actor_ip": fields.actor_ip,
        "user_agent": fields.user_agent,
        "request_id": fields.request_id,
        "action": fields.action,
        "target_type": fields.target_type,
        "target_id": fields.target_id,
        "outcome": fields.outcome,
        "details": fields.details,
    }


def link_fields(row: AuditEventRecord) -> LinkFields:
    """What ``row``'s hash covers, as stored: hashing it again must give ``row.hash``."""
    return LinkFields(
        id=row.id,
        chain=row.chain_id,
        seq=row.seq,
        prev=row.prev_hash,
        occurred_at=row.occurred_at,
        tenant=row.tenant_id,
        actor=row.actor,
        actor_ip=row.actor_ip,
        user_agent=row.user_agent,
        request_id=row.request_id,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        outcome=row.outcome,
        details=row.details,
    )


def _json_safe(value: Any) -> Any:
    """Timestamps and ids as ISO strings, so details serialise the same on every backend."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    if isinstance(value, date | UUID):
        return value.isoformat() if isinstance(value, date) else str(value)
    return value


def lock_head(session: Session, chain: UUID) -> tuple[int, str]:
    """The number and hash of ``chain``'s last event, its head row locked until the commit."""
    return _claim(session, chain, 0)
