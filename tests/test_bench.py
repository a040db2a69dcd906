"""The benchmark, end to end on a tiny workload, so it cannot rot between runs of ``make bench``.

SQLite only; pycasbin's rows run when it is installed (the ``bench`` extra) and are skipped
otherwise. The authentication section runs with a handful of tokens and logins, the decision
trail's with a few dozen checks per round and a flood of a fifth of a second, the password
policy's with two passes (zxcvbn's one, when it is installed) and one fresh interpreter per list
load. Timings are never asserted: this machine's figures live in docs/benchmarks.md.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench import casbin_peer
from bench.passwords import peer_version
from bench.run import POSTGRES_ENV, main

TINY = [
    "--users", "50",
    "--tenants", "2",
    "--queries", "200",
    "--spare", "10",
    "--repeats", "1",
    "--passes", "1",
    "--batch", "20",
    "--ready-runs", "1",
    "--casbin-repeats", "1",
    "--auth-tokens", "3",
    "--auth-cached", "10",
    "--auth-rounds", "1",
    "--logins", "2",
    "--refresh-rounds", "1",
    "--audit-checks", "200",
    "--audit-denied", "20",
    "--audit-rounds", "1",
    "--audit-flood-seconds", "0.2",
    "--audit-flood-buffer", "100",
    "--password-passes", "2",
    "--password-peer-passes", "1",
    "--password-load-runs", "1",
    "--cache-users", "60",
    "--cache-checks", "300",
    "--cache-hits", "50",
    "--cache-rounds", "1",
]  # fmt: skip


def test_benchmark_runs_end_to_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    output = tmp_path / "latest.json"

    assert main([*TINY, "--output", str(output)]) == 0

    report = json.loads(output.read_text())
    (run,) = report["runs"]
    assert run["users"] == 50 and run["queries"] == 200
    assert run["postgresql"] is None
    assert (run["casbin"] is not None) == casbin_peer.available()
    labels = [row["label"] for row in report["table"]]
    assert any(label.startswith("warm check, median") for label in labels)
    assert any(label.startswith("warm check, decision trail on") for label in labels)
    assert run["trail"]["calls"] == 200 and run["trail"]["denied"] == 100
    assert len(run["trail"]["ratios"]) == 1 and run["trail"]["ratios"][0] > 0
    auth = report["auth"]
    assert [t["algorithm"] for t in auth["tokens"]] == ["ES256", "EdDSA", "RS256", "HS256"]
    assert auth["tokens"][0]["verify_first"]["samples"] == 1  # one round after the warm-up
    assert auth["sqlite"]["login"]["samples"] == 2 and auth["sqlite"]["refresh"]["samples"] == 2
    assert auth["postgresql"] is None
    assert len(report["tables"]) == 3 and all(table["rows"] for table in report["tables"])
    assert output.with_suffix(".md").read_text().startswith("| figure |")


def test_authentication_runs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    output = tmp_path / "auth.json"

    assert main([*TINY, "--sections", "auth", "--output", str(output)]) == 0

    report = json.loads(output.read_text())
    assert report["runs"] == [] and report["table"] == []
    tokens, logins = report["tables"]
    assert tokens["headings"] == ["figure", "ES256", "EdDSA", "RS256", "HS256", "target", "verdict"]
    assert logins["headings"] == ["figure", "SQLite", "PostgreSQL", "target", "verdict"]
    assert report["auth"]["postgresql"] is None


def test_decision_trail_runs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    output = tmp_path / "latest.json"

    assert main([*TINY, "--sections", "audit", "--output", str(output)]) == 0

    assert not output.exists()  # the section writes its own files, as HTTP does
    report = json.loads(output.with_name("audit.json").read_text())
    audit = report["audit"]
    assert audit["postgresql"] is None
    sqlite = audit["sqlite"]
    assert sqlite["hot"]["denied_on"]["samples"] == 1  # one round after the discarded one
    assert sqlite["summary"]["denied_on_over_off"] > 0
    flood = sqlite["flood"]
    assert flood["after"]["written"] + flood["after"]["dropped"] == flood["checks"]
    assert flood["after"]["buffered"] == 0
    table = report["table"]
    assert table["headings"] == ["figure", "SQLite", "PostgreSQL", "target", "verdict"]
    assert all(row["cells"][1] == "skipped" for row in table["rows"])
    assert output.with_name("audit.md").read_text().startswith("| figure |")


def test_password_policy_runs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    output = tmp_path / "latest.json"

    assert main([*TINY, "--sections", "passwords", "--output", str(output)]) == 0

    assert not output.exists()  # the section writes its own files, as the decision trail does
    report = json.loads(output.with_name("passwords.json").read_text())
    found = report["passwords"]
    classes = {c["name"]: c for c in found["classes"]}
    assert list(classes) == ["passphrase", "random", "exact", "derived", "walk", "long"]
    assert [c["outcome"] for c in classes.values()] == [
        "accepted", "accepted", "common", "common", "keyboard_walk", "accepted",
    ]  # fmt: skip
    assert classes["long"]["longest_bytes"] == 1024
    for run in classes.values():
        assert run["rolegate"]["samples"] == 2 * run["passwords"]  # two passes after the warm-up
    assert found["blocklist_words"] > 400_000
    assert found["load"]["seconds"]["samples"] == 1 and found["load"]["traced_bytes"] > 0
    installed = peer_version() is not None
    assert (found["peer_load"] is not None) == installed
    assert all((c["peer"] is not None) == installed for c in classes.values())
    table = report["table"]
    assert table["headings"] == ["figure", "rolegate", "zxcvbn (reference)", "target", "verdict"]
    assert len(table["rows"]) == 8
    assert output.with_name("passwords.md").read_text().startswith("| figure |")


def test_snapshot_cache_runs_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(POSTGRES_ENV, raising=False)
    output = tmp_path / "latest.json"

    assert main([*TINY, "--sections", "cache", "--output", str(output)]) == 0

    report = json.loads(output.with_name("cache.json").read_text())
    found = report["cache"]
    assert found["capacity"] == 6 and found["members"] == 60
    assert set(found["hit_ratio"]) == {"rolegate", "fifo", "lru"}
    assert all(0 < ratio < 1 for ratio in found["hit_ratio"].values())
    assert {name: s["samples"] for name, s in found["hit_ns"].items()} == {
        "rolegate": 1,
        "fifo": 1,
        "lru": 1,
    }
    table = report["table"]
    assert table["headings"][1:4] == ["rolegate (CLOCK)", "FIFO (before)", "exact LRU (cachetools)"]
    assert output.with_name("cache.md").read_text().startswith("| figure |")
