"""The bundled list of breached passwords, held as one sorted byte string.

Half a million passwords as a ``frozenset`` of ``str`` would take some 45 MB in every process;
as one sorted UTF-8 blob with an array of line offsets they take 9 MB and a lookup is a binary
search of about 19 slice comparisons (a few microseconds).
"""

from __future__ import annotations

import lzma
import re
from array import array
from collections.abc import Iterator
from functools import cache
from importlib.resources import files
from typing import Final

#: The vendored data file (see ``data/README.md`` for its sources and licences).
BLOCKLIST_FILE: Final = "data/breached-passwords.txt.xz"
_NEWLINE: Final = re.compile(b"\n")


class SortedWords:
    """A read-only set of words, looked up by binary search in one sorted byte string."""

    def __init__(self, sorted_lines: bytes) -> None:
        self._blob = sorted_lines
        # starts[i] is where line i begins; the last entry is where a line after the last one
        # would. Found by scanning, not splitting: half a million bytes objects would cost
        # ten times the blob's size for a moment.
        self._starts = array("L", [0])
        self._starts.extend(newline.end() for newline in _NEWLINE.finditer(sorted_lines))
        self._starts.append(len(sorted_lines) + 1)

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __contains__(self, word: object) -> bool:
        if not isinstance(word, str) or not word or "\n" in word:
            return False
        try:
            needle = word.encode()
        except UnicodeEncodeError:
            return False
        low, high = 0, len(self)
        while low < high:
            middle = (low + high) // 2
            line = self._line(middle)
            if line == needle:
                return True
            if line < needle:
                low = middle + 1
            else:
                high = middle
        return False

    def __iter__(self) -> Iterator[str]:
        return (self._line(i).decode() for i in range(len(self)))

    def _line(self, index: int) -> bytes:
        return self._blob[self._starts[index] : self._starts[index + 1] - 1]


@cache
def breached_passwords() -> SortedWords:
    """The bundled blocklist: NFKC-normalised, case-folded, sorted by UTF-8 bytes."""
    packed = files("rolegate.authn").joinpath(BLOCKLIST_FILE).read_bytes()
    return SortedWords(lzma.decompress(packed))
