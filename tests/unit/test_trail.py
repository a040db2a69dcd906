"""The decision trail's buffer on plain data: order kept, drops counted, failures retried,
everything written at close, and the writer's share of the time bounded."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from rolegate.audit.trail import DecisionTrail, pause_after


class Store:
    """Where the trail writes: a list, or a failure while ``down``."""

    def __init__(self) -> None:
        self.rows: list[str] = []
        self.down = False

    def write(self, items: Sequence[str]) -> None:
        if self.down:
            raise ConnectionError("the database is down")
        self.rows.extend(items)


def idle_trail(store: Store, *, capacity: int = 10) -> DecisionTrail[int, str]:
    """A trail whose thread only writes when flushed or closed."""
    return DecisionTrail(str, store.write, capacity=capacity, batch=10_000, interval=3600)


def test_items_are_written_in_the_order_offered_and_counted() -> None:
    store = Store()
    trail = idle_trail(store)
    for i in range(7):
        trail.offer(i)
    assert trail.stats().buffered == 7 and store.rows == []
    trail.close()
    assert store.rows == [str(i) for i in range(7)]
    assert (trail.stats().written, trail.stats().dropped, trail.stats().buffered) == (7, 0, 0)


def test_a_full_buffer_drops_and_counts_without_blocking() -> None:
    store = Store()
    trail = idle_trail(store, capacity=5)
    for i in range(12):
        trail.offer(i)
    assert (trail.stats().buffered, trail.stats().dropped) == (5, 7)
    trail.close()
    assert store.rows == ["0", "1", "2", "3", "4"]


def test_a_failed_write_keeps_the_batch_for_the_next_one() -> None:
    store = Store()
    trail = idle_trail(store)
    for i in range(3):
        trail.offer(i)
    store.down = True
    trail.flush()
    assert trail.stats().buffered == 3 and store.rows == []
    store.down = False
    trail.close()
    assert store.rows == ["0", "1", "2"]


def test_what_cannot_be_written_at_close_is_counted_as_dropped() -> None:
    store = Store()
    trail = idle_trail(store)
    trail.offer(1)
    store.down = True
    trail.close()
    assert (trail.stats().dropped, trail.stats().buffered) == (1, 0)
    trail.offer(2)  # after close: counted, never buffered
    assert trail.stats().dropped == 2


@pytest.mark.parametrize(
    ("busy", "share", "pause"), [(1.0, 1.0, 0.0), (1.0, 0.25, 3.0), (0.2, 0.5, 0.2)]
)
def test_the_writer_rests_to_keep_its_share_of_the_time(
    busy: float, share: float, pause: float
) -> None:
    rest = pause_after(busy, share)
    assert rest == pytest.approx(pause)
    assert busy / (busy + rest) == pytest.approx(share)
