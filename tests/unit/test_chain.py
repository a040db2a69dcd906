"""The hash chain on plain data: a chain built link by link walks intact, and any edit,
deletion, insertion or swap breaks it at the first event that no longer follows."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from hypothesis import given
from hypothesis import strategies as st

from rolegate.audit.chain import GENESIS, ChainWalk, LinkFields, timestamp

START = datetime(2026, 1, 1, tzinfo=UTC)
CHAIN = UUID(int=7)


def build(count: int) -> list[tuple[LinkFields, str]]:
    """``count`` events chained from the genesis, each with its hash."""
    events, prev = [], GENESIS
    for seq in range(1, count + 1):
        fields = LinkFields(
            uuid4(), CHAIN, seq, prev, START + timedelta(seconds=seq), CHAIN, "system",
            None, None, None, "role.created", "role", f"r{seq}", "success", {"n": seq},
        )  # fmt: skip
        prev = fields.digest()
        events.append((fields, prev))
    return events


def first_break(events: list[tuple[LinkFields, str]]) -> int | None:
    """The position of the first event the walk refuses, or None when it holds throughout."""
    walk = ChainWalk()
    for position, (fields, digest) in enumerate(events):
        if not walk.step(fields, digest):
            return position
    return None


@given(st.integers(1, 30))
def test_a_chain_built_link_by_link_is_intact(count: int) -> None:
    events = build(count)
    assert first_break(events) is None
    walk = ChainWalk()
    for fields, digest in events:
        walk.step(fields, digest)
    assert walk.end(head_seq=count, head_hash=events[-1][1]) is None


@given(st.data())
def test_an_edit_breaks_the_chain_at_the_edited_event(data: st.DataObject) -> None:
    events = build(data.draw(st.integers(1, 20)))
    victim = data.draw(st.integers(0, len(events) - 1))
    fields, digest = events[victim]
    events[victim] = (replace(fields, actor="mallory"), digest)
    assert first_break(events) == victim


@given(st.data())
def test_a_deletion_breaks_the_chain_at_the_next_event(data: st.DataObject) -> None:
    events = build(data.draw(st.integers(2, 20)))
    victim = data.draw(st.integers(0, len(events) - 2))
    del events[victim]
    assert first_break(events) == victim


@given(st.data())
def test_a_swap_breaks_the_chain_at_the_first_moved_event(data: st.DataObject) -> None:
    events = build(data.draw(st.integers(2, 20)))
    first = data.draw(st.integers(0, len(events) - 2))
    events[first], events[first + 1] = events[first + 1], events[first]
    assert first_break(events) == first


def test_a_cut_tail_is_caught_against_the_head() -> None:
    events = build(5)
    walk = ChainWalk()
    for fields, digest in events[:3]:
        walk.step(fields, digest)
    broken = walk.end(head_seq=5, head_hash=events[-1][1])
    assert broken is not None and broken.problem == "events 4..5 are missing from the end"


def test_the_canonical_form_is_sorted_compact_utf8_with_a_fixed_time_format() -> None:
    fields = build(1)[0][0]
    text = replace(fields, actor="zoë\r\n").canonical().decode("utf-8")
    assert text.startswith('{"action":"role.created","actor":"zoë\\r\\n","actor_ip":null,')
    assert '"occurred_at":"2026-01-01T00:00:01.000000Z"' in text and " " not in text
    assert timestamp(datetime(2026, 1, 1, 1, tzinfo=UTC).astimezone()) == (
        "2026-01-01T01:00:00.000000Z"
    )
