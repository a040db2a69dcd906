"""The hash chains: every change joins its tenant's chain, and ``verify`` finds every kind of
tampering (edited, deleted, inserted, reordered events, a cut tail, forged anchors), on both
backends, with writers in many threads and many processes."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest
from sqlalchemy import delete, func, select, update

from rolegate import Rolegate
from rolegate.audit.chain import GENESIS, LinkFields
from rolegate.audit.recorder import link_fields
from rolegate.db.migrate import current_revision, upgrade
from rolegate.db.models import AuditAnchorRecord, AuditChainRecord, AuditEventRecord
from rolegate.entities import ChainReport
from tests.factories import FAST_HASHER, FakeClock, build_documents_policy, downgrade

ROOT = Path(__file__).resolve().parents[2]


def chain_rows(rg: Rolegate, tenant: str) -> list[AuditEventRecord]:
    """The stored events of ``tenant``'s chain, by number."""
    tenant_id = rg.tenants.get(tenant).id
    with rg.db.reading() as session:
        rows = list(
            session.scalars(
                select(AuditEventRecord)
                .where(AuditEventRecord.chain_id == tenant_id)
                .order_by(AuditEventRecord.seq)
            )
        )
        session.expunge_all()
    return rows


def report_of(rg: Rolegate, tenant: str) -> ChainReport:
    [report] = rg.audit.verify(tenant=tenant)
    return report


def tamper(rg: Rolegate, *statements: object) -> None:
    """Run statements straight against the database, as someone with its credentials could."""
    with rg.db.engine.begin() as connection:
        for statement in statements:
            connection.execute(statement)  # type: ignore[call-overload]


def test_every_change_joins_its_tenants_chain_in_order(policy: Rolegate) -> None:
    rows = chain_rows(policy, "acme")
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == GENESIS
    assert all(
        later.prev_hash == earlier.hash for earlier, later in zip(rows, rows[1:], strict=False)
    )
    reports = policy.audit.verify()
    assert {r.label for r in reports} >= {"acme", "global"}
    assert all(r.is_intact for r in reports), reports
    assert report_of(policy, "acme").events == len(rows)


def test_the_hash_covers_every_stored_field(policy: Rolegate) -> None:
    row = chain_rows(policy, "acme")[-1]
    fields = LinkFields(
        row.id,
        row.chain_id,
        row.seq,
        row.prev_hash,
        row.occurred_at,
        row.tenant_id,
        row.actor,
        row.actor_ip,
        row.user_agent,
        row.request_id,
        row.action,
        row.target_type,
        row.target_id,
        row.outcome,
        row.details,
    )
    assert fields.digest() == row.hash
    for name in ("actor", "action", "target_id", "outcome"):
        changed = LinkFields(**{**_as_dict(fields), name: "x"})
        assert changed.digest() != row.hash, name


def _as_dict(fields: LinkFields) -> dict[str, object]:
    return {name: getattr(fields, name) for name in LinkFields.__slots__}


Tampering = Callable[[Rolegate, list[AuditEventRecord]], UUID | None]


def _edit_actor(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    victim = rows[3]
    tamper(rg, update(AuditEventRecord).where(AuditEventRecord.id == victim.id).values(actor="x"))
    return victim.id


def _edit_details(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    victim = rows[4]
    details = {**victim.details, "forged": True}
    statement = update(AuditEventRecord).where(AuditEventRecord.id == victim.id)
    tamper(rg, statement.values(details=details))
    return victim.id


def _delete_middle(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    tamper(rg, delete(AuditEventRecord).where(AuditEventRecord.id == rows[2].id))
    return rows[3].id  # the event after the gap is where the chain breaks


def _delete_and_renumber(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    """Delete an event and close the gap by renumbering: the next link no longer follows."""
    tamper(rg, delete(AuditEventRecord).where(AuditEventRecord.id == rows[2].id))
    for row in rows[3:]:
        statement = update(AuditEventRecord).where(AuditEventRecord.id == row.id)
        tamper(rg, statement.values(seq=row.seq - 1))
    return rows[3].id


def _insert_forged(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    """Make room after event 3 and insert a well-formed event hashed over its own fields."""
    for row in reversed(rows[3:]):
        statement = update(AuditEventRecord).where(AuditEventRecord.id == row.id)
        tamper(rg, statement.values(seq=row.seq + 1))
    after = rows[2]
    forged = LinkFields(
        uuid4(), after.chain_id, after.seq + 1, after.hash, after.occurred_at, after.tenant_id,
        "system", None, None, None, "role.deleted", "role", str(uuid4()), "success", {},
    )  # fmt: skip
    tamper(
        rg,
        AuditEventRecord.__table__.insert().values(
            id=forged.id,
            chain_id=forged.chain,
            seq=forged.seq,
            prev_hash=forged.prev,
            hash=forged.digest(),
            occurred_at=forged.occurred_at,
            tenant_id=forged.tenant,
            actor=forged.actor,
            action=forged.action,
            target_type=forged.target_type,
            target_id=forged.target_id,
            outcome=forged.outcome,
            details={},
        ),  # fmt: skip
    )
    return rows[3].id  # the real event after the forgery does not follow it


def _swap(rg: Rolegate, rows: list[AuditEventRecord]) -> UUID:
    first, second = rows[2], rows[3]
    parking = -1
    tamper(
        rg,
        update(AuditEventRecord).where(AuditEventRecord.id == first.id).values(seq=parking),
        update(AuditEventRecord).where(AuditEventRecord.id == second.id).values(seq=first.seq),
        update(AuditEventRecord).where(AuditEventRecord.id == first.id).values(seq=second.seq),
    )
    return second.id


def _cut_tail(rg: Rolegate, rows: list[AuditEventRecord]) -> None:
    tamper(rg, delete(AuditEventRecord).where(AuditEventRecord.id == rows[-1].id))
    return None  # missing past the end: no event to name


TAMPERING: dict[str, Tampering] = {
    "edited actor": _edit_actor,
    "edited details": _edit_details,
    "deleted": _delete_middle,
    "deleted and renumbered": _delete_and_renumber,
    "inserted": _insert_forged,
    "reordered": _swap,
    "tail cut": _cut_tail,
}


@pytest.mark.parametrize("tampering", TAMPERING.values(), ids=TAMPERING.keys())
def test_verify_reports_the_first_broken_link(policy: Rolegate, tampering: Tampering) -> None:
    assert report_of(policy, "acme").is_intact
    expected = tampering(policy, chain_rows(policy, "acme"))
    report = report_of(policy, "acme")
    assert not report.is_intact
    assert report.broken_at == expected, report
    assert report.problem
    others = [r for r in policy.audit.verify() if r.label != "acme"]
    assert all(r.is_intact for r in others)  # one broken chain leaves the others' verdicts


def test_a_seal_detects_a_tail_cut_with_the_head_rewritten(policy: Rolegate) -> None:
    [anchor] = policy.audit.seal(tenant="acme")
    rows = chain_rows(policy, "acme")
    assert (anchor.seq, anchor.hash) == (rows[-1].seq, rows[-1].hash)
    policy.roles.create("acme", "later")
    assert report_of(policy, "acme").is_intact and report_of(policy, "acme").seals == 1
    last, cut = chain_rows(policy, "acme")[-1], rows[-2]
    tamper(
        policy,
        delete(AuditEventRecord).where(AuditEventRecord.seq > cut.seq),
        update(AuditChainRecord)
        .where(AuditChainRecord.chain_id == last.chain_id)
        .values(seq=cut.seq, hash=cut.hash),
    )
    report = report_of(policy, "acme")
    assert not report.is_intact
    assert report.problem == f"events {cut.seq + 1}..{anchor.seq} were sealed and are missing"


def test_a_forged_or_moved_anchor_is_detected(policy: Rolegate) -> None:
    policy.audit.seal(tenant="acme")
    tamper(policy, update(AuditAnchorRecord).values(hash="f" * 64))
    report = report_of(policy, "acme")
    assert not report.is_intact and "changed after it was signed" in (report.problem or "")


def test_an_anchor_signed_by_an_unknown_key_is_refused(policy: Rolegate) -> None:
    policy.audit.seal(tenant="acme")
    tamper(policy, update(AuditAnchorRecord).values(kid="nobody"))
    assert "unknown key" in (report_of(policy, "acme").problem or "")


def test_anchors_still_verify_after_the_key_rotates(policy: Rolegate) -> None:
    policy.audit.seal(tenant="acme")
    policy.keys.rotate()
    policy.keys.rotate()
    assert report_of(policy, "acme").is_intact


def test_pruning_leaves_an_anchor_and_a_chain_that_verifies(
    policy: Rolegate, clock: FakeClock
) -> None:
    old = chain_rows(policy, "acme")
    clock.advance(timedelta(days=400))
    cutoff = clock.now - timedelta(days=1)
    policy.roles.create("acme", "recent")
    [anchor] = policy.audit.prune(before=cutoff, tenant="acme")
    assert (anchor.kind, anchor.seq, anchor.removed) == ("prune", old[-1].seq, len(old))
    kept = chain_rows(policy, "acme")
    assert [r.action for r in kept] == ["role.created", "audit.pruned"]
    assert kept[0].prev_hash == old[-1].hash
    report = report_of(policy, "acme")
    assert report.is_intact and report.events == 2, report
    assert policy.audit.prune(before=cutoff, tenant="acme") == []  # nothing that old is left
    tamper(policy, delete(AuditEventRecord).where(AuditEventRecord.id == kept[0].id))
    assert report_of(policy, "acme").broken_at == kept[1].id


def test_pruning_everything_still_verifies(policy: Rolegate, clock: FakeClock) -> None:
    clock.advance(timedelta(days=1))
    anchors = policy.audit.prune(before=clock.now)
    assert {a.label for a in anchors} >= {"acme", "global"}
    assert all(r.is_intact for r in policy.audit.verify())


def test_prune_refuses_a_naive_date(policy: Rolegate, clock: FakeClock) -> None:
    from rolegate import InvalidInput

    with pytest.raises(InvalidInput):
        policy.audit.prune(before=clock.now.replace(tzinfo=None))


def test_concurrent_writers_in_threads_leave_one_valid_chain(policy: Rolegate) -> None:
    def work(worker: int) -> None:
        for i in range(10):
            policy.permissions.create("acme", f"thread{worker}:act{i}")

    before = len(chain_rows(policy, "acme"))
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(work, range(6)))
    rows = chain_rows(policy, "acme")
    created = [r for r in rows if r.action == "permission.created" and "thread" in str(r.details)]
    assert len(created) == 60
    assert len(rows) > before + 60  # each first use of a resource is audited as well
    report = report_of(policy, "acme")
    assert report.is_intact and report.events == len(rows), report


def _write_from_process(database_url: str, worker: int, count: int) -> None:
    with Rolegate(database_url, hasher=FAST_HASHER) as rg:
        for i in range(count):
            rg.permissions.create("acme", f"proc{worker}:act{i}")


def test_concurrent_writers_in_processes_leave_one_valid_chain(
    policy: Rolegate, database_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_write_from_process, args=(database_url, worker, 8))
        for worker in range(4)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    rows = chain_rows(policy, "acme")
    assert (
        sum(1 for r in rows if r.action == "permission.created" and "proc" in str(r.details)) == 32
    )
    report = report_of(policy, "acme")
    assert report.is_intact and report.events == len(rows), report


def test_the_documented_script_verifies_an_export_independently(
    policy: Rolegate, tmp_path: Path
) -> None:
    export = tmp_path / "acme.jsonl"
    lines = [
        json.dumps(e.as_json(), ensure_ascii=False) for e in policy.audit.export(tenant="acme")
    ]
    export.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = ROOT / "docs" / "verify_audit.py"
    assert len(script.read_text().splitlines()) <= 21
    ok = subprocess.run(
        [sys.executable, str(script), str(export)], capture_output=True, text=True, check=False
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith(f"intact: {len(lines)} events")
    forged = [json.loads(line) for line in lines]
    forged[2]["actor"] = "mallory"
    export.write_text("\n".join(json.dumps(e) for e in forged) + "\n", encoding="utf-8")
    broken = subprocess.run(
        [sys.executable, str(script), str(export)], capture_output=True, text=True, check=False
    )
    assert broken.returncode == 1 and forged[2]["id"] in broken.stderr


def test_a_deleted_tenants_chain_is_kept_and_verifiable_by_id(policy: Rolegate) -> None:
    tenant_id = policy.tenants.get("acme").id
    policy.tenants.delete("acme")
    [report] = policy.audit.verify(tenant=tenant_id)
    assert report.is_intact and report.events > 0
    assert report.label == str(tenant_id)
    assert policy.audit.events(tenant=tenant_id, action="tenant.deleted").items


def test_events_of_no_tenant_form_the_global_chain(rg: Rolegate) -> None:
    rg.users.create("zed")
    [report] = [r for r in rg.audit.verify() if r.label == "global"]
    assert report.is_intact and report.events >= 1
    with rg.db.reading() as session:
        heads = session.scalar(select(func.count()).select_from(AuditChainRecord))
    assert heads == len(rg.audit.verify())


def test_migration_0005_chains_the_events_stored_before_it(empty_database_url: str) -> None:
    """Events written, the chain columns dropped (down to 0004), then upgraded again: the
    migration numbers and hashes the old events, per chain in the order they occurred."""
    with Rolegate(empty_database_url, hasher=FAST_HASHER, auto_upgrade=True) as rg:
        build_documents_policy(rg)
        before = [(r.id, r.action) for r in chain_rows(rg, "acme")]
        db = rg.db
        downgrade(db, "0004")
        assert current_revision(db) == "0004"
        upgrade(db)
        after = chain_rows(rg, "acme")
        assert [(r.id, r.action) for r in after] == before
        assert all(r.is_intact for r in rg.audit.verify()), rg.audit.verify()
        rg.roles.create("acme", "after-the-upgrade")  # new events chain on from the migrated head
        assert report_of(rg, "acme").is_intact


def _rewrite_and_rehash(rg: Rolegate, victim: int) -> None:
    """What an attacker who knows the format can do: edit an event, then hash it and every
    later event again and move the head, so every link holds."""
    rows = chain_rows(rg, "acme")
    prev = rows[victim - 1].prev_hash
    for row in rows[victim - 1 :]:
        fields = LinkFields(**{**_as_dict(link_fields(row)), "prev": prev})
        if row.seq == victim:
            fields = LinkFields(**{**_as_dict(fields), "actor": "mallory"})
        prev = fields.digest()
        statement = update(AuditEventRecord).where(AuditEventRecord.id == row.id)
        tamper(rg, statement.values(actor=fields.actor, prev_hash=fields.prev, hash=prev))
    head = update(AuditChainRecord).where(AuditChainRecord.chain_id == rows[0].chain_id)
    tamper(rg, head.values(hash=prev))


def test_a_rewritten_and_rehashed_chain_is_caught_by_its_seal(policy: Rolegate) -> None:
    _rewrite_and_rehash(policy, 3)
    assert report_of(policy, "acme").is_intact  # links alone cannot show a re-hashed chain

    policy.audit.seal(tenant="acme")
    sealed = chain_rows(policy, "acme")[-1]
    _rewrite_and_rehash(policy, 4)
    report = report_of(policy, "acme")
    assert not report.is_intact
    assert report.broken_at == sealed.id, report
