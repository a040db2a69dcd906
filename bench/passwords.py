"""The password policy's cost: ``PasswordPolicy.check`` per class of input, the blocklist's
one-time load, and zxcvbn on the same inputs as a reference.

``check`` is called as account changes call it (``rg.users.create``, ``set_password``, a login
that sets a new password): with the username, the email address and the slugs of the user's
tenants as context words. Six classes of input, a few passwords each, every one first checked
to get the answer its class names (accepted, or refused with that rule):

- *passphrase*: words and spaces, accepted;
- *random*: 16 random printable characters (seeded), accepted;
- *exact hit*: passwords of 12+ characters drawn from the bundled blocklist, refused ``common``;
- *derived*: a listed word of 6-8 letters with ``2024!!`` after it, not itself listed, refused
  ``common`` (the base-word lookup);
- *keyboard walk*: runs of adjacent keys that no list holds, refused ``keyboard_walk`` (every
  rule before it ran and passed);
- *1,024 bytes*: random printable text of exactly :data:`MAX_PASSWORD_BYTES` UTF-8 bytes
  (ASCII, and two-byte characters), accepted: every rule runs over the longest input allowed.

The list is loaded before timing. Then one untimed pass, then ``passes`` passes in which the
classes take turns, each password timed on its own between two clock reads (a refusal's
exception included). Median and p99 per class, over ``passes`` × its passwords.

The peer, when installed (the ``bench`` extra), is zxcvbn-python's ``zxcvbn(password,
user_inputs=[...])`` with the same context words, timed the same way over ``peer_passes``
passes. It estimates strength rather than applying rules, so its cost is a reference, not a
target; its scores (0-4) are shown beside it. It refuses input over 72 characters by default
(``max_length``), so for the 1,024-byte class it is timed on each password's first 72.

The load is timed in fresh interpreters (``load_runs`` each, median): rolegate's
``breached_passwords()`` (read, xz-decompress, index the half-million lines) after its module
is imported, and ``import zxcvbn`` (which builds its ranked dictionaries); the memory each
holds afterwards is measured once more with ``tracemalloc`` on (what Python allocated and still
holds, and the peak), and as the resident set's growth in the untraced runs.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import string
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Final

import rolegate
from bench.measure import Spread
from bench.targets import Row
from bench.verify import expect
from rolegate.authn.blocklist import breached_passwords
from rolegate.authn.passwords import MAX_PASSWORD_BYTES, PasswordPolicy
from rolegate.errors import InvalidPassword

#: The requirement: every check, whatever the input, under a millisecond.
CHECK_TARGET_NS: Final = 1_000_000
#: The context words of the account whose password is checked, as login passes them.
USERNAME: Final = "alice.martin"
EMAIL: Final = "alice.martin@example.com"
TENANT_SLUGS: Final = ("acme", "globex")
#: zxcvbn-python's default ``max_length``: it raises ValueError on anything longer.
PEER_MAX_LENGTH: Final = 72
ACCEPTED: Final = "accepted"
SEED: Final = 20_240_601
PER_CLASS: Final = 5  # passwords drawn for each class that is drawn rather than written out


@dataclass(frozen=True, slots=True)
class PasswordSpec:
    """How much the password section does; the defaults are the run in docs/benchmarks.md."""

    passes: int = 2_000  # timed passes over every class's passwords (rolegate)
    peer_passes: int = 20  # the same for zxcvbn, which takes milliseconds per call
    load_runs: int = 3  # fresh interpreters timing each load


@dataclass(frozen=True, slots=True)
class InputClass:
    """One class of input: its passwords and the answer every one of them must get."""

    name: str
    label: str
    passwords: tuple[str, ...]
    outcome: str  # ACCEPTED or the InvalidPassword rule


@dataclass(frozen=True, slots=True)
class ClassRun:
    """One class: ns per single call, rolegate's and the peer's, and the peer's scores."""

    name: str
    label: str
    outcome: str
    passwords: int
    longest_bytes: int
    rolegate: Spread  # ns per check
    peer: Spread | None  # ns per zxcvbn() call
    peer_scores: tuple[int, ...]  # zxcvbn's score of each password, 0-4


@dataclass(frozen=True, slots=True)
class Load:
    """One list's load in fresh interpreters."""

    subject: str  # what was timed
    seconds: Spread  # one sample per fresh interpreter
    rss_growth_bytes: int | None  # median resident-set growth over the untimed load, untraced
    traced_bytes: int  # Python allocations still held afterwards (tracemalloc)
    traced_peak_bytes: int  # the most held at any moment during the load


@dataclass(frozen=True, slots=True)
class PasswordRun:
    """Everything the password section measured."""

    policy: str  # the PasswordPolicy measured
    blocklist_words: int
    peer: str | None  # "zxcvbn 4.5.0", None when it is not installed
    classes: tuple[ClassRun, ...]
    load: Load
    peer_load: Load | None
    seconds: float

    def to_json(self) -> dict[str, Any]:
        """Every raw figure (ns, bytes, seconds)."""
        return asdict(self)


def peer_version() -> str | None:
    """The installed zxcvbn's version, None when it is not installed."""
    try:
        return version("zxcvbn")
    except PackageNotFoundError:
        return None


def measure_passwords(spec: PasswordSpec, *, say: Callable[[str], None]) -> PasswordRun:
    """Load the list, check every class's answers, time the classes, then the loads."""
    started = time.perf_counter()
    policy = PasswordPolicy()
    blocklist = breached_passwords()  # loaded now, never inside a timed call
    classes = input_classes()
    check = _rolegate_check(policy)
    for found in classes:
        expect(f"{found.name}: passwords drawn", bool(found.passwords), True)
        for password in found.passwords:
            expect(f"{found.name}: {password[:40]!r}", check(password), found.outcome)
    peer = peer_version()
    say(f"  PasswordPolicy.check: {spec.passes:,} passes over {len(classes)} classes")
    timed = _per_call(check, classes, passes=spec.passes)
    peer_timed: dict[str, Spread] = {}
    scores: dict[str, tuple[int, ...]] = {}
    if peer is not None:
        say(f"  zxcvbn {peer}: {spec.peer_passes:,} passes over the same passwords")
        peer_check, score = _peer_check()
        peer_timed = _per_call(peer_check, classes, passes=spec.peer_passes)
        scores = {c.name: tuple(score(p) for p in c.passwords) for c in classes}
    runs = tuple(
        ClassRun(
            c.name,
            c.label,
            c.outcome,
            len(c.passwords),
            max(len(p.encode()) for p in c.passwords),
            timed[c.name],
            peer_timed.get(c.name),
            scores.get(c.name, ()),
        )
        for c in classes
    )
    say(f"  list loads: {spec.load_runs} fresh interpreters each")
    load = measure_load("rolegate", runs=spec.load_runs)
    peer_load = measure_load("zxcvbn", runs=spec.load_runs) if peer else None
    return PasswordRun(
        f"PasswordPolicy(min_length={policy.min_length})",
        len(blocklist),
        f"zxcvbn {peer}" if peer else None,
        runs,
        load,
        peer_load,
        time.perf_counter() - started,
    )


# -- inputs -------------------------------------------------------------------------------------

_PASSPHRASES: Final = (
    "violet tram under quiet ledger",
    "copper kettle sings at dawn",
    "seven lanterns drift north",
    "my cat naps on warm tiles",
)
_WALKS: Final = ("zxcvbnm,./asdf", "poiuytrewqasdfgh", "asdfghjkl;'zxcvbnm", "mnbvcxz/.,lkjh")
_PRINTABLE: Final = string.ascii_letters + string.digits + string.punctuation + " "
_TWO_BYTE: Final = "éèàçüößñøåæœ"


def input_classes(seed: int = SEED) -> tuple[InputClass, ...]:
    """The six classes, the same passwords on every run (drawn from ``seed``); a drawn
    candidate that gets another answer (a listed word holding a context word) is passed over."""
    draw = random.Random(seed)
    check = _rolegate_check(PasswordPolicy())
    blocklist = breached_passwords()
    listed, words = [], []
    for word in blocklist:
        if len(word) >= 12 and word.isascii():
            listed.append(word)
        elif 6 <= len(word) <= 8 and word.isascii() and word.isalpha():
            words.append(word)
    randoms = ["".join(draw.choice(_PRINTABLE.strip()) for _ in range(16)) for _ in range(50)]
    derived = [f"{w}2024!!" for w in draw.sample(words, 50)]
    long_ascii = "".join(draw.choice(_PRINTABLE) for _ in range(MAX_PASSWORD_BYTES))
    long_mixed = "".join(
        draw.choice(_TWO_BYTE) if i % 2 else draw.choice(string.ascii_letters)
        for i in range(MAX_PASSWORD_BYTES * 2 // 3)
    )
    long_mixed += "x" * (MAX_PASSWORD_BYTES - len(long_mixed.encode()))

    def first(candidates: Sequence[str], outcome: str) -> tuple[str, ...]:
        return tuple([c for c in candidates if check(c) == outcome][:PER_CLASS])

    return (
        InputClass("passphrase", "accepted passphrase", _PASSPHRASES, ACCEPTED),
        InputClass(
            "random", "accepted random password (16 characters)", first(randoms, ACCEPTED), ACCEPTED
        ),
        InputClass(
            "exact", "refused: on the blocklist", first(draw.sample(listed, 50), "common"), "common"
        ),
        InputClass(
            "derived",
            "refused: listed word + digits and symbols",
            first([d for d in derived if d not in blocklist], "common"),
            "common",
        ),
        InputClass("walk", "refused: keyboard walk", _WALKS, "keyboard_walk"),
        InputClass(
            "long",
            f"accepted, {MAX_PASSWORD_BYTES:,} bytes (the longest allowed)",
            (long_ascii, long_mixed),
            ACCEPTED,
        ),
    )


# -- timing -------------------------------------------------------------------------------------


def _rolegate_check(policy: PasswordPolicy) -> Callable[[str], object]:
    """``policy.check`` with the context words; the answer: accepted, or the refusal's rule."""

    def check(password: str) -> object:
        try:
            policy.check(password, username=USERNAME, email=EMAIL, tenant_slugs=TENANT_SLUGS)
        except InvalidPassword as refused:
            return refused.rule
        return ACCEPTED

    return check


def _peer_check() -> tuple[Callable[[str], object], Callable[[str], int]]:
    """zxcvbn with the same context words, on at most its default maximum length; and its
    score of a password."""
    from zxcvbn import zxcvbn  # the bench extra's: absent, the peer is skipped

    context = [USERNAME, EMAIL, *TENANT_SLUGS]

    def check(password: str) -> object:
        return zxcvbn(password[:PEER_MAX_LENGTH], user_inputs=context)

    def score(password: str) -> int:
        return int(zxcvbn(password[:PEER_MAX_LENGTH], user_inputs=context)["score"])

    return check, score


def _per_call(
    check: Callable[[str], object], classes: Sequence[InputClass], *, passes: int
) -> dict[str, Spread]:
    """ns per single call of ``check``, per class; one untimed pass first (the warm-up), then
    the classes take turns pass by pass."""
    durations: dict[str, list[int]] = {c.name: [] for c in classes}
    clock = perf_counter_ns
    for number in range(passes + 1):
        for found in classes:
            record = durations[found.name].append
            for password in found.passwords:
                started = clock()
                check(password)
                elapsed = clock() - started
                if number > 0:
                    record(elapsed)
    return {name: Spread.of(found) for name, found in durations.items()}


# -- the one-time load, in fresh interpreters ---------------------------------------------------

_LOADS: Final = {
    "rolegate": (
        "from rolegate.authn.blocklist import breached_passwords",
        "breached_passwords()",
    ),
    "zxcvbn": ("", "import zxcvbn"),
}
_LOAD_SCRIPT: Final = """
import json, os, sys, time, tracemalloc
{prepare}
def rss():
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None
traced = sys.argv[1] == "traced"
if traced:
    tracemalloc.start()
before, started = rss(), time.perf_counter()
{load}
seconds, after = time.perf_counter() - started, rss()
held, peak = tracemalloc.get_traced_memory() if traced else (0, 0)
growth = None if before is None or after is None else after - before
print(json.dumps({{"seconds": seconds, "rss_growth": growth, "held": held, "peak": peak}}))
"""


def measure_load(subject: str, *, runs: int) -> Load:
    """``subject``'s list loaded in ``runs`` fresh interpreters, then once more traced."""
    prepare, load = _LOADS[subject]
    script = _LOAD_SCRIPT.format(prepare=prepare, load=load)
    untraced = [_fresh(script, "untraced") for _ in range(runs)]
    traced = _fresh(script, "traced")
    growths = [r["rss_growth"] for r in untraced if r["rss_growth"] is not None]
    return Load(
        f"{load} in a fresh interpreter",
        Spread.of([r["seconds"] * 1e9 for r in untraced]),
        int(statistics.median(growths)) if growths else None,
        traced["held"],
        traced["peak"],
    )


def _fresh(script: str, mode: str) -> dict[str, Any]:
    # The rolegate being measured, not whichever one the interpreter would find first.
    source = str(Path(rolegate.__file__).resolve().parents[1])
    path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
    done = subprocess.run(
        [sys.executable, "-c", script, mode],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": path},
    )
    found: dict[str, Any] = json.loads(done.stdout)
    return found


# -- the table ----------------------------------------------------------------------------------

COLUMNS: Final = ("rolegate", "zxcvbn (reference)")


def rows(run: PasswordRun) -> list[Row]:
    """Median / p99 per class for rolegate and the peer, then each list's load."""
    found = [
        Row(
            f"{c.label}, median / p99",
            (_us_pair(c.rolegate), _peer_cell(c)),
            "< 1 ms",
            (c.rolegate.p99 < CHECK_TARGET_NS, None),
        )
        for c in run.classes
    ]
    loads = (run.load, run.peer_load)
    found += [
        Row(
            "list load, once per process (median of fresh interpreters)",
            tuple("skipped" if ld is None else f"{ld.seconds.median / 1e9:.2f} s" for ld in loads),
        ),
        Row(
            "memory held after the load: tracemalloc (peak) / RSS growth",
            tuple("skipped" if ld is None else _memory(ld) for ld in loads),
        ),
    ]
    return found


def _us(value: float) -> str:
    return f"{value / 1e3:,.1f} µs" if value < 1e6 else f"{value / 1e6:,.2f} ms"


def _us_pair(spread: Spread) -> str:
    return f"{_us(spread.median)} / {_us(spread.p99)}"


def _peer_cell(found: ClassRun) -> str:
    if found.peer is None:
        return "skipped"
    low, high = min(found.peer_scores), max(found.peer_scores)
    scores = f"score {low}" if low == high else f"scores {low}-{high}"
    cut = f", first {PEER_MAX_LENGTH} chars" if found.longest_bytes > PEER_MAX_LENGTH else ""
    return f"{_us_pair(found.peer)} ({scores}{cut})"


def _mb(value: float) -> str:
    return f"{value / 1e6:.1f} MB"


def _memory(load: Load) -> str:
    rss = "—" if load.rss_growth_bytes is None else _mb(load.rss_growth_bytes)
    return f"{_mb(load.traced_bytes)} ({_mb(load.traced_peak_bytes)}) / {rss}"
