"""Predictable passwords that no list holds: keyboard walks, sequences and repeats.

A password is refused when it is made *only* of such runs (``qwertyuiop123``: a walk then a
sequence; ``1qaz2wsx3edc``: a column walk); one character outside every run is enough to leave
the decision to the other rules. These are the first patterns cracking rules try (zxcvbn's
spatial, sequence and repeat matchers; NIST SP 800-63B-4 §3.1.1.2's "repetitive or sequential
characters"). Input is the case-folded password; each check is linear in its length.
"""

from __future__ import annotations

from typing import Final

#: Rows and columns of a US QWERTY keyboard, unshifted and shifted (case-folded, so shifted
#: letters are the unshifted ones). Reversed copies are added below.
_KEYBOARD: Final = (
    "`1234567890-=",
    "~!@#$%^&*()_+",
    "qwertyuiop[]\\",
    "qwertyuiop{}|",
    "asdfghjkl;'",
    'asdfghjkl:"',
    "zxcvbnm,./",
    "zxcvbnm<>?",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik,9ol.0p;/-['=]",
    '!qaz@wsx#edc$rfv%tgb^yhn&ujm*ik<(ol>)p:?_{"+}',
    "qazwsxedcrfvtgbyhnujmik,ol.p;/",
    "1q2w3e4r5t6y7u8i9o0p-[=]",
    "!q@w#e$r%t^y&u*i(o)p_{+}",
    "a1q2w3e4r5t",
    "1a2s3d4f5g6h7j8k9l",
    "q1w2e3r4t5y6u7i8o9p0",
    "789456123",  # the numeric keypad, top row first, then as a phone's
    "123456789",
    "741852963",
    "147258369",
)
#: Shortest run that counts: "qw" or "12" inside a password is chance, "qwe" or "123" is not.
MIN_RUN: Final = 3
#: The longest unit a password may repeat and still be refused as a repeat ("abcabcabcabc").
MAX_REPEATED_UNIT: Final = 4


def _walk_fragments() -> frozenset[str]:
    rows = _KEYBOARD + tuple(row[::-1] for row in _KEYBOARD)
    return frozenset(
        row[start:end]
        for row in rows
        for start in range(len(row))
        for end in range(start + 2, len(row) + 1)
    )


#: Every stretch of two or more adjacent keys; a set closed under prefixes, so a run can be
#: grown one key at a time.
_WALKS: Final = _walk_fragments()


def predictable_rule(folded: str) -> str | None:
    """``repeated``, ``sequence`` or ``keyboard_walk`` when ``folded`` is made only of such
    runs (the kind covering most characters names it), else None."""
    unit = repeated_unit(folded)
    if unit is not None and len(unit) <= MAX_REPEATED_UNIT:
        return "repeated"
    covered = {"repeated": 0, "sequence": 0, "keyboard_walk": 0}
    position = 0
    while position < len(folded):
        kind, length = _longest_run(folded, position)
        if length < MIN_RUN:
            return None
        covered[kind] += length
        position += length
    return max(covered, key=lambda kind: covered[kind]) if folded else None


def repeated_unit(folded: str) -> str | None:
    """The shortest unit that ``folded`` repeats two or more times, if any ("abab" → "ab")."""
    doubled = (folded + folded).find(folded, 1)
    if 0 < doubled < len(folded):
        return folded[:doubled]
    return None


def _longest_run(text: str, start: int) -> tuple[str, int]:
    runs = [
        ("repeated", _repeat_length(text, start)),
        ("sequence", _sequence_length(text, start)),
        ("keyboard_walk", _walk_length(text, start)),
    ]
    return max(runs, key=lambda run: run[1])


def _repeat_length(text: str, start: int) -> int:
    end = start + 1
    while end < len(text) and text[end] == text[start]:
        end += 1
    return end - start


def _sequence_length(text: str, start: int) -> int:
    """The length of the run of consecutive letters or digits (ascending or descending; digits
    wrap, so "890123" is one run) starting at ``start``."""
    if start + 1 >= len(text):
        return 1
    step = _step(text[start], text[start + 1])
    if step == 0:
        return 1
    end = start + 2
    while end < len(text) and _step(text[end - 1], text[end]) == step:
        end += 1
    return end - start


def _step(before: str, after: str) -> int:
    """+1 or -1 when ``after`` follows or precedes ``before`` in the alphabet or the digits."""
    if before.isdigit() and after.isdigit() and before.isascii() and after.isascii():
        difference = (int(after) - int(before)) % 10
        return {1: 1, 9: -1}.get(difference, 0)
    if before.isalpha() and after.isalpha() and before.isascii() and after.isascii():
        difference = ord(after) - ord(before)
        return difference if difference in (1, -1) else 0
    return 0


def _walk_length(text: str, start: int) -> int:
    end = start + 1
    while end < len(text) and text[start : end + 1] in _WALKS:
        end += 1
    return end - start
