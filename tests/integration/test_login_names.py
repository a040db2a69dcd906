"""Login names cannot shadow each other: a username is never another account's email address
(nor the reverse, case-folded as the lookup keys are), at every create and change, and a login
name that fits two accounts written before this rule logs in neither (fail closed, logged)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from rolegate import InvalidCredentials, LoginNameTaken, Rolegate, UserExists
from rolegate.db.models import UserRecord
from rolegate.names import username_key
from tests.factories import PASSWORD, member_with_password

VICTIM_EMAIL = "Victim@B.Example"


@pytest.fixture
def victim(rg: Rolegate) -> Rolegate:
    """``victim`` in tenant b, logging in by the email address ``victim@b.example``."""
    rg.tenants.create("b")
    rg.users.create("victim", email=VICTIM_EMAIL, password=PASSWORD, tenant="b")
    return rg


@pytest.mark.parametrize("name", ["victim@b.example", "VICTIM@b.example", "victim@ｂ.example"])
def test_a_new_username_cannot_be_another_accounts_email(victim: Rolegate, name: str) -> None:
    with pytest.raises(LoginNameTaken) as taken:
        victim.users.create(name, password=PASSWORD)
    assert taken.value.code == "login_name_taken"
    assert victim.auth.login("victim@b.example", PASSWORD, tenant="b").session.is_active


def test_a_new_email_cannot_be_another_accounts_username(rg: Rolegate) -> None:
    rg.users.create("boss@a.example")
    with pytest.raises(LoginNameTaken):
        rg.users.create("mallory", email="BOSS@a.example")


def test_renaming_into_another_accounts_email_is_refused(victim: Rolegate) -> None:
    victim.users.create("mallory@a.example")
    with pytest.raises(LoginNameTaken):
        victim.users.update("mallory@a.example", username="victim@b.example")
    with pytest.raises(LoginNameTaken):
        victim.users.update("victim", email="MALLORY@a.example")
    assert victim.users.get("mallory@a.example").username == "mallory@a.example"
    assert victim.users.get("victim").email == "Victim@b.example"  # as stored: normalised


def test_ones_own_email_may_be_ones_username(rg: Rolegate) -> None:
    user = rg.users.create("carol@c.example", email="Carol@C.example")
    assert rg.users.update(user.id, username="CAROL@c.example").username == "CAROL@c.example"


def test_bootstrap_cannot_shadow_an_email(victim: Rolegate) -> None:
    with pytest.raises(LoginNameTaken):
        victim.platform.bootstrap(username="victim@b.example", password=PASSWORD)
    assert not victim.platform.has_members()


def test_a_login_name_of_two_legacy_accounts_logs_in_neither(
    victim: Rolegate, caplog: pytest.LogCaptureFixture
) -> None:
    member_with_password(victim, "planted", tenant="b")
    with victim.db.transaction() as session:  # a row written before the rule: past the service
        session.execute(
            update(UserRecord)
            .where(UserRecord.username == "planted")
            .values(username="victim@b.example", username_key=username_key("victim@b.example"))
        )

    with caplog.at_level(logging.WARNING, logger="rolegate.db.lookup"):
        for name in ("victim@b.example", "VICTIM@B.EXAMPLE"):
            with pytest.raises(InvalidCredentials) as failure:
                victim.auth.login(name, PASSWORD, tenant="b")
            assert failure.value.reason == "unknown_user"
    assert "login name fits two accounts" in caplog.text
    assert victim.auth.login("victim", PASSWORD, tenant="b").session.is_active  # by username


LEGACY_EMAIL = "Legacy@XN--BCHER-KVA.example"  # accepted by the old rule and stored as written
LEGACY_KEY = "legacy@xn--bcher-kva.example"  # the old key: the address as written, case-folded


@pytest.fixture
def legacy(rg: Rolegate) -> Rolegate:
    """``legacy`` in tenant b, whose address was stored before addresses were normalised."""
    member_with_password(rg, "legacy", tenant="b")
    with rg.db.transaction() as session:  # a row as the old code wrote it: past the service
        session.execute(
            update(UserRecord)
            .where(UserRecord.username == "legacy")
            .values(email=LEGACY_EMAIL, email_key=LEGACY_KEY)
        )
    return rg


@pytest.mark.parametrize(
    "name", [LEGACY_EMAIL, "legacy@xn--bcher-kva.example", "legacy@bücher.example"]
)
def test_an_address_stored_before_normalisation_still_logs_in(legacy: Rolegate, name: str) -> None:
    assert legacy.auth.login(name, PASSWORD, tenant="b").access_token


def test_an_address_stored_before_normalisation_is_still_taken(legacy: Rolegate) -> None:
    with pytest.raises(UserExists):
        legacy.users.create("other", email="legacy@bücher.example")
    with pytest.raises(LoginNameTaken):
        legacy.users.create("LEGACY@bücher.example")
