"""The audit trail as a whole: reading it, verifying its chains, sealing their heads, and pruning
old events behind a signed anchor.

Nothing here updates an event. Only :meth:`AuditService.prune` deletes, a chain's oldest events
and nothing else, leaving a signed ``prune`` anchor where the chain now begins.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID

import jwt
from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from rolegate.audit.chain import GENESIS, GLOBAL_CHAIN, Break, ChainWalk, chain_of
from rolegate.audit.recorder import link_fields, lock_head
from rolegate.authn.keys import Signer
from rolegate.db.models import (
    AuditAnchorRecord,
    AuditChainRecord,
    AuditEventRecord,
    SigningKeyRecord,
    TenantRecord,
)
from rolegate.entities import AuditAnchor, AuditEvent, ChainReport
from rolegate.errors import InvalidInput
from rolegate.pages import DEFAULT_PAGE_SIZE, Page
from rolegate.services._context import ServiceContext, require_tenant
from rolegate.services.audit_read import AuditFilter, event_entity
from rolegate.services.keys import KeyService
from rolegate.services.pages import Order, page_of, paged, sort_key
from rolegate.types import Progress, Ref

SEAL: Final = "seal"
PRUNE: Final = "prune"
_BATCH: Final = 1000  # rows fetched per round trip when walking or exporting a chain
# Unique, and within one chain and one instant, in chain order.
_NEWEST_FIRST: Final = Order(
    (AuditEventRecord.occurred_at, AuditEventRecord.chain_id, AuditEventRecord.seq),
    descending=True,
)

#: What a user sees of their own trail: sign-ins, sessions, password changes, refusals.
SECURITY_PREFIXES: Final = ("auth.", "session.", "user.password_", "authz.escalation_denied")


class _Tally:
    """Events done out of ``total``, told to ``progress`` every :data:`_BATCH` of them (and by
    :meth:`reach`); without ``progress`` it only counts."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self._progress, self.total, self.done = progress, total, 0
        self._tell()

    def step(self) -> None:
        self.done += 1
        if self.done % _BATCH == 0:
            self._tell()

    def reach(self, done: int) -> None:
        """Count ``done`` as done (the end of a chain, its unread rest included) and tell."""
        self.done = done
        self._tell()

    def _tell(self) -> None:
        if self._progress is not None:
            self._progress(min(self.done, self.total), self.total)


@dataclass(frozen=True, slots=True)
class _Anchor:
    """An anchor whose signature has been checked (``problem`` says why it does not hold)."""

    row: AuditAnchorRecord
    problem: str | None


class AuditService:
    """Reads, verifies, seals and prunes the audit trail (``rg.audit``)."""

    def __init__(self, ctx: ServiceContext, keys: KeyService) -> None:
        self._ctx, self._keys = ctx, keys

    def events(
        self,
        *,
        tenant: Ref | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = DEFAULT_PAGE_SIZE,
    ) -> Page[AuditEvent]:
        """One page of events, newest first, of ``tenant`` (every chain when None).

        ``action`` is exact, or a prefix when it ends in ``*`` (``auth.*``); ``target`` is a
        type (``role``) or a type and id (``role:<id>``); ``since`` is inclusive, ``until``
        exclusive. Follow ``next_cursor`` for the next page.
        """
        wanted = AuditFilter(actor, action, target, outcome, since, until)
        with self._ctx.db.reading() as session:
            query = self._matching(session, tenant, wanted)
            rows = session.scalars(paged(query, _NEWEST_FIRST, cursor=cursor, limit=limit)).all()
            return page_of(rows, limit=limit, key=sort_key(_NEWEST_FIRST), entity=event_entity)

    def user_events(
        self, user_id: UUID, *, cursor: str | None = None, limit: int = DEFAULT_PAGE_SIZE
    ) -> Page[AuditEvent]:
        """The security events about ``user_id`` or done by it, in every tenant, newest first:
        sign-ins and failures, lockouts, sessions ended, password changes, refused grants."""
        uid = str(user_id)
        about_user = or_(
            and_(AuditEventRecord.target_type == "user", AuditEventRecord.target_id == uid),
            AuditEventRecord.actor == uid,
            and_(
                AuditEventRecord.target_type == "session",
                AuditEventRecord.details["user_id"].as_string() == uid,
            ),
        )
        security = or_(
            *(func.substr(AuditEventRecord.action, 1, len(p)) == p for p in SECURITY_PREFIXES)
        )
        query = select(AuditEventRecord).where(about_user, security)
        with self._ctx.db.reading() as session:
            rows = session.scalars(paged(query, _NEWEST_FIRST, cursor=cursor, limit=limit)).all()
            return page_of(rows, limit=limit, key=sort_key(_NEWEST_FIRST), entity=event_entity)

    def export(
        self,
        *,
        tenant: Ref | None = None,
        actor: str | None = None,
        action: str | None = None,
        target: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        progress: Progress | None = None,
    ) -> Generator[AuditEvent, None, None]:
        """Every matching event, chain by chain in chain order (oldest first), streamed: rows are
        fetched a thousand at a time (a server-side cursor on PostgreSQL), so millions of events
        never sit in memory. One tenant's export is its chain, as ``docs/verify_audit.py``
        checks it. ``progress`` is told the events yielded out of those matching (one more
        query, made only for it)."""
        wanted = AuditFilter(actor, action, target, outcome, since, until)
        with self._ctx.db.reading() as session:
            query = self._matching(session, tenant, wanted)
            total = 0
            if progress is not None:
                total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
            tally = _Tally(progress, total)
            query = query.order_by(AuditEventRecord.chain_id, AuditEventRecord.seq)
            query = query.execution_options(yield_per=_BATCH)
            rows = session.scalars(query)
            try:
                for row in rows:
                    yield event_entity(row)
                    tally.step()
                tally.reach(tally.done)
            finally:
                rows.close()  # also when the reader stops early

    def verify(
        self, *, tenant: Ref | None = None, progress: Progress | None = None
    ) -> list[ChainReport]:
        """Walk every chain (or ``tenant``'s) and report, per chain, the first broken link:
        an event edited, deleted, inserted or moved, a tail cut off, a bad signed anchor.
        ``progress`` is told the events checked out of those stored (one more query, made
        only for it); the events of a chain after its break count as checked."""
        with self._ctx.db.reading() as session:
            chains = self._chains(session, tenant)
            labels = _labels(session)
            sizes = {}
            if progress is not None:
                sizes = _chain_sizes(session, None if tenant is None else chains)
            tally = _Tally(progress, sum(sizes.values()))
            reports = []
            for chain in chains:
                start = tally.done
                reports.append(self._verify_chain(session, chain, labels, tally))
                tally.reach(start + sizes.get(chain, 0))
            return reports

    def seal(self, *, tenant: Ref | None = None) -> list[AuditAnchor]:
        """Sign the head of every chain (or ``tenant``'s) with the audit seal key (never a key
        that verifies tokens), so a cut tail is detected by :meth:`verify` even when the head
        row was rewritten with it."""
        with self._ctx.db.reading() as session:
            chains, labels = self._chains(session, tenant), _labels(session)
        signer = self._keys.seal_signer()  # first, outside: it may have to make the first key
        anchors = []
        for chain in chains:
            with self._ctx.transaction() as tx:
                seq, digest = lock_head(tx, chain)
                if seq > 0:
                    row = _anchor(tx, signer, chain, SEAL, seq, digest, at=self._ctx.now())
                    anchors.append(AuditAnchor(**_anchor_fields(row, labels)))
        return anchors

    def prune(self, *, before: datetime, tenant: Ref | None = None) -> list[AuditAnchor]:
        """Delete the events older than ``before`` from every chain (or ``tenant``'s), leaving
        a signed ``prune`` anchor at the last one removed: what remains still verifies, from
        there. The pruning is itself an event (``audit.pruned``) in the pruned chain."""
        if before.tzinfo is None:
            raise InvalidInput("before must be a time-zone aware datetime")
        with self._ctx.db.reading() as session:
            chains, labels = self._chains(session, tenant), _labels(session)
        signer = self._keys.seal_signer()  # first, outside: it may have to make the first key
        anchors = []
        for chain in chains:
            with self._ctx.transaction() as tx:
                anchor = self._prune_chain(tx, signer, chain, labels, before)
            if anchor is not None:
                anchors.append(anchor)
        return anchors

    def _prune_chain(
        self, tx: Session, signer: Signer, chain: UUID, labels: dict[UUID, str], before: datetime
    ) -> AuditAnchor | None:
        head_seq, _ = lock_head(tx, chain)
        in_chain = AuditEventRecord.chain_id == chain
        first_kept = tx.scalar(
            select(func.min(AuditEventRecord.seq)).where(
                in_chain, AuditEventRecord.occurred_at >= before
            )
        )
        through = head_seq if first_kept is None else first_kept - 1
        last_removed = tx.execute(
            select(AuditEventRecord.seq, AuditEventRecord.hash)
            .where(in_chain, AuditEventRecord.seq <= through)
            .order_by(AuditEventRecord.seq.desc())
            .limit(1)
        ).one_or_none()
        if last_removed is None:
            return None  # nothing that old is stored
        removed = tx.execute(
            delete(AuditEventRecord).where(in_chain, AuditEventRecord.seq <= through)
        )
        at = self._ctx.now()
        anchor = _anchor(tx, signer, chain, PRUNE, last_removed.seq, last_removed.hash, at=at)
        count = int(getattr(removed, "rowcount", 0) or 0)
        self._ctx.audit(
            tx,
            "audit.pruned",
            "audit_chain",
            chain,
            tenant_id=None if chain == GLOBAL_CHAIN else chain,
            actor=None,
            details={"before": before, "through_seq": last_removed.seq, "removed": count},
        )
        return AuditAnchor(**{**_anchor_fields(anchor, labels), "removed": count})

    def _matching(self, session: Session, tenant: Ref | None, wanted: AuditFilter) -> Select[Any]:
        """The events ``wanted`` keeps, of ``tenant``'s chain (every chain when None)."""
        chain = None if tenant is None else AuditEventRecord.chain_id == _chain_id(session, tenant)
        return wanted.apply(select(AuditEventRecord), chain)

    def _chains(self, session: Session, tenant: Ref | None) -> list[UUID]:
        """The chains to work on: ``tenant``'s, or every chain anything is stored for."""
        if tenant is not None:
            return [_chain_id(session, tenant)]
        known = select(AuditChainRecord.chain_id).union(
            select(AuditEventRecord.chain_id).distinct(),
            select(AuditAnchorRecord.chain_id).distinct(),
        )
        return sorted(session.scalars(known))

    def _verify_chain(
        self, session: Session, chain: UUID, labels: dict[UUID, str], tally: _Tally
    ) -> ChainReport:
        head = session.get(AuditChainRecord, chain)
        head_seq, head_hash = (head.seq, head.hash) if head is not None else (0, GENESIS)
        anchors = [self._checked(session, row) for row in _anchor_rows(session, chain)]
        prunes = [a.row for a in anchors if a.row.kind == PRUNE]
        start = max(prunes, key=lambda row: row.seq) if prunes else None
        walk = ChainWalk(after_seq=start.seq, after_hash=start.hash) if start else ChainWalk()
        # Only seals whose signature holds vouch for the events; a bad one is reported itself.
        sealed = {a.row.seq: a.row.hash for a in anchors if a.row.kind == SEAL and not a.problem}
        rewritten = _walk(session, chain, walk, sealed, tally)
        broken = walk.end(head_seq=head_seq, head_hash=head_hash) or rewritten
        if broken is None:
            problem = _anchor_problem(anchors, walk.seq)
            broken = Break(None, walk.seq, problem) if problem is not None else None
        return ChainReport(
            chain_id=chain,
            label=labels.get(chain, str(chain)),
            events=walk.count,
            last_seq=walk.seq,
            seals=sum(1 for a in anchors if a.row.kind == SEAL),
            broken_at=broken.event_id if broken is not None else None,
            broken_seq=broken.seq if broken is not None else None,
            problem=broken.problem if broken is not None else None,
        )

    def _checked(self, session: Session, row: AuditAnchorRecord) -> _Anchor:
        """``row`` with its signature checked against the key that made it."""
        key = self._verifying_key(session, row.kid)
        if key is None:
            return _Anchor(row, f"anchor at {row.seq} is signed by an unknown key {row.kid!r}")
        algorithm, public = key
        try:
            claims = jwt.decode(
                row.signature, public, algorithms=[algorithm], options={"verify_iat": False}
            )
        except jwt.PyJWTError:
            return _Anchor(row, f"anchor at {row.seq} has an invalid signature")
        signed = (claims.get("chain"), claims.get("kind"), claims.get("seq"), claims.get("hash"))
        if signed != (str(row.chain_id), row.kind, row.seq, row.hash):
            return _Anchor(row, f"anchor at {row.seq} was changed after it was signed")
        return _Anchor(row, None)

    def _verifying_key(self, session: Session, kid: str) -> tuple[str, Any] | None:
        """The algorithm and key that verify ``kid``'s signatures, retired keys included: an
        anchor outlives the tokens its key signed. Anchors made before 0006 were signed by a
        token key (the ring's, or a stored one); later ones by a stored audit seal key."""
        verifier = self._keys.current().verifier(kid)
        if verifier is not None:
            return verifier.algorithm, verifier.key
        row = session.get(SigningKeyRecord, kid)
        if row is None:
            return None
        return row.algorithm, jwt.PyJWK(row.public_jwk, algorithm=row.algorithm).key


def _anchor(
    tx: Session, signer: Signer, chain: UUID, kind: str, seq: int, digest: str, *, at: datetime
) -> AuditAnchorRecord:
    """Store an anchor at event ``seq`` (hash ``digest``) of ``chain``, signed by ``signer``."""
    claims = {"chain": str(chain), "kind": kind, "seq": seq, "hash": digest, "iat": at}
    signature = jwt.encode(
        claims, signer.key, algorithm=signer.algorithm, headers={"kid": signer.kid}
    )
    row = AuditAnchorRecord(
        chain_id=chain,
        kind=kind,
        seq=seq,
        hash=digest,
        created_at=at,
        kid=signer.kid,
        signature=signature,
    )
    tx.add(row)
    tx.flush()
    return row


def _anchor_rows(session: Session, chain: UUID) -> Sequence[AuditAnchorRecord]:
    query: Select[Any] = select(AuditAnchorRecord).where(AuditAnchorRecord.chain_id == chain)
    return session.scalars(query.order_by(AuditAnchorRecord.seq)).all()


def _chain_id(session: Session, tenant: Ref) -> UUID:
    """The chain of ``tenant``: an id is taken as it is, so a deleted tenant's trail (and the
    global chain, the nil UUID) is still found; a slug must name a tenant."""
    return tenant if isinstance(tenant, UUID) else chain_of(require_tenant(session, tenant).id)


def _chain_sizes(session: Session, chains: Sequence[UUID] | None) -> dict[UUID, int]:
    """How many events each of ``chains`` (every chain: None) stores."""
    query = select(AuditEventRecord.chain_id, func.count()).group_by(AuditEventRecord.chain_id)
    if chains is not None:
        query = query.where(AuditEventRecord.chain_id.in_(chains))
    return {chain: count for chain, count in session.execute(query)}


def _walk(
    session: Session, chain: UUID, walk: ChainWalk, sealed: dict[int, str], tally: _Tally
) -> Break | None:
    """Feed ``chain``'s events to ``walk`` in order, streamed, until it breaks. Returns the first
    sealed event whose hash is not the one signed: the chain was rewritten and re-hashed from
    there on, which its links alone cannot show."""
    differs: Break | None = None
    events = session.scalars(
        select(AuditEventRecord)
        .where(AuditEventRecord.chain_id == chain)
        .order_by(AuditEventRecord.seq)
        .execution_options(yield_per=_BATCH)
    )
    try:
        for row in events:
            tally.step()
            if not walk.step(link_fields(row), row.hash):
                break
            if differs is None and sealed.get(row.seq, row.hash) != row.hash:
                differs = Break(
                    row.id,
                    row.seq,
                    "differs from the chain head signed here: the chain was rewritten up to it",
                )
    finally:
        events.close()  # a server-side cursor left open after a break warns, and holds on
    return differs


def _anchor_problem(anchors: list[_Anchor], last_seq: int) -> str | None:
    """The first problem with the chain's anchors: a bad signature, or a sealed event past the
    end (a tail cut off, the head row rewritten with it)."""
    for anchor in anchors:
        if anchor.problem is not None:
            return anchor.problem
        if anchor.row.kind == SEAL and anchor.row.seq > last_seq:
            return f"events {last_seq + 1}..{anchor.row.seq} were sealed and are missing"
    return None


def _labels(session: Session) -> dict[UUID, str]:
    """Every chain's name: its tenant's slug, or ``global``."""
    labels = {GLOBAL_CHAIN: "global"}
    labels.update(
        (row.id, row.slug) for row in session.execute(select(TenantRecord.id, TenantRecord.slug))
    )
    return labels


def _anchor_fields(row: AuditAnchorRecord, labels: dict[UUID, str]) -> dict[str, Any]:
    return {
        "chain_id": row.chain_id,
        "label": labels.get(row.chain_id, str(row.chain_id)),
        "kind": row.kind,
        "seq": row.seq,
        "hash": row.hash,
        "created_at": row.created_at,
        "kid": row.kid,
    }
