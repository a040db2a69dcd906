"""``rg.auth`` is one entry point over services split by concept: its names, signatures and
documentation stay what applications were promised, and the hot path gains no frame."""

from __future__ import annotations

import inspect
from uuid import UUID

import rolegate.db.lookup
import rolegate.facade
from rolegate import Rolegate
from rolegate.types import Ref

#: Every public name of ``rg.auth`` and its signature, as the README and the edges call them.
SIGNATURES = {
    "apply": "(changes: 'Sequence[Change]') -> 'None'",
    "change_password": "(user: 'Ref', current: 'str', new: 'str', *, tenant: 'Ref' = 'default', "
    "ip: 'str | None' = None, user_agent: 'str | None' = None, "
    "keep_session: 'UUID | None' = None) -> 'int'",
    "jwks": "() -> 'dict[str, Any]'",
    "lockout": "(user: 'Ref | None' = None, *, tenant: 'Ref' = 'default', "
    "ip: 'str | None' = None) -> 'Lockout'",
    "login": "(username_or_email: 'str', password: 'str', *, tenant: 'Ref' = 'default', "
    "ip: 'str | None' = None, user_agent: 'str | None' = None, "
    "new_password: 'str | None' = None) -> 'TokenPair'",
    "login_history": "(*, user: 'Ref | None' = None, tenant: 'Ref | None' = None, "
    "limit: 'int' = 100, before: 'datetime | None' = None) -> 'list[LoginAttempt]'",
    "login_page": "(tenant: 'Ref', *, user: 'Ref | None' = None, "
    "succeeded: 'bool | None' = None, cursor: 'str | None' = None, "
    "limit: 'int' = 50) -> 'Page[LoginAttempt]'",
    "logout": "(session: 'SessionRef') -> 'int'",
    "refresh": "(refresh_token: 'str', *, ip: 'str | None' = None, "
    "user_agent: 'str | None' = None) -> 'TokenPair'",
    "revoke_all": "(user: 'Ref', *, tenant: 'Ref | None' = None, "
    "except_session: 'SessionRef | None' = None, reason: 'str' = 'revoked', "
    "actor: 'str | None' = None) -> 'int'",
    "revoke_session": "(session: 'SessionRef', *, owner: 'UUID | None' = None, "
    "reason: 'str' = 'revoked', actor: 'str | None' = None) -> 'SessionValue'",
    "revoke_tenant_session": "(session: 'SessionRef', *, tenant: 'Ref', "
    "actor: 'str | None' = None) -> 'SessionValue'",
    "sessions": "(user: 'Ref', *, tenant: 'Ref | None' = None, "
    "include_ended: 'bool' = False) -> 'list[SessionValue]'",
    "tenant_sessions": "(tenant: 'Ref', *, user: 'Ref | None' = None, "
    "cursor: 'str | None' = None, limit: 'int' = 50) -> 'Page[SessionValue]'",
    "unlock": "(user: 'Ref | None' = None, *, tenant: 'Ref' = 'default', "
    "ip: 'str | None' = None, actor: 'str | None' = None) -> 'Lockout'",
    "unlock_member": "(user: 'Ref', *, tenant: 'Ref', actor: 'str | None' = None) -> 'Lockout'",
    "verify": "(token: 'str') -> 'Principal'",
}


def test_rg_auth_keeps_every_name_signature_and_docstring(sqlite_rg: Rolegate) -> None:
    public = {name for name in dir(sqlite_rg.auth) if not name.startswith("_")}
    assert public == set(SIGNATURES)
    for name, signature in SIGNATURES.items():
        method = getattr(sqlite_rg.auth, name)
        assert str(inspect.signature(method)) == signature, name
        assert method.__doc__, name


def test_verify_is_bound_once_so_the_hot_path_gains_no_frame(sqlite_rg: Rolegate) -> None:
    # A method looked up on the class makes a new bound method per access; a bound attribute
    # is the same object every time, and calls the token service's verify directly.
    assert sqlite_rg.auth.verify is sqlite_rg.auth.verify


def test_ref_is_defined_once() -> None:
    assert Ref == str | UUID
    assert rolegate.facade.Ref is Ref
    assert rolegate.db.lookup.Ref is Ref
