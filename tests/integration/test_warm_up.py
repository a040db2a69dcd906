"""``Rolegate.warm_up``: every member compiled ahead of the first check, optionally frozen."""

from __future__ import annotations

import gc

import pytest

from rolegate import Rolegate, TenantNotFound
from tests.factories import build_documents_policy


def test_warm_up_compiles_every_member_so_checks_compile_nothing(rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.users.create("bob")
    rg.assignments.assign("acme", "bob", "viewer")
    rg.memberships.add("default", "bob")
    assert rg.warm_up() == 3  # alice@acme, bob@acme, bob@default
    compiles = rg.cache_stats().compiles
    assert rg.check("alice", "documents:write", tenant="acme")
    assert rg.check("bob", "documents:read", tenant="acme")
    assert not rg.check("bob", "documents:read", tenant="default")
    assert rg.cache_stats().compiles == compiles


def test_warm_up_of_one_tenant_and_of_an_unknown_one(rg: Rolegate) -> None:
    build_documents_policy(rg)
    rg.memberships.add("default", "alice")
    assert rg.warm_up(tenant="default") == 1
    with pytest.raises(TenantNotFound):
        rg.warm_up(tenant="nope")


def test_freeze_gc_moves_everything_alive_out_of_the_collector(rg: Rolegate) -> None:
    build_documents_policy(rg)
    try:
        rg.warm_up(freeze_gc=True)
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert rg.check("alice", "documents:read", tenant="acme")
