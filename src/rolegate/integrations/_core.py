"""What every framework integration shares, with no framework in it: token verifiers, deciders,
the :class:`Gatekeeper` that runs them and the :class:`AccessRefused` it raises.

Two plug points, each a Protocol with built-in implementations:

- a :class:`TokenVerifier` turns an access token into a :class:`Principal`: in-process
  (:class:`LocalVerifier`, sessions checked live) or from a rolegate server's JWKS
  (:class:`RemoteJWKSVerifier`, stateless);
- a :class:`Decider` answers whether a principal holds a permission: in-process
  (:class:`LocalDecider`) or by asking a rolegate server's check API (:class:`RemoteDecider`).

Everything fails closed: any error while verifying is a 401, a decider that cannot decide is a
503, a denial a 403; none of them ever lets the request through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import nullcontext
from typing import Any, Final, Protocol

import httpx

from rolegate.audit.origin import Origin, acting_from
from rolegate.authn.keys import ASYMMETRIC, KeyRing, StoredKey
from rolegate.authn.tokens import TokenRules, decode_access_token
from rolegate.authz.decision import Decision, Reason
from rolegate.entities import Principal
from rolegate.errors import AuthenticationFailed, InvalidConfiguration, InvalidToken
from rolegate.facade import Rolegate
from rolegate.problem_types import PROBLEM_BASE

log = logging.getLogger("rolegate.integrations")

#: An unknown ``kid`` refetches the JWKS at most this often (seconds): forged kids must not turn
#: every request into a request to the rolegate server.
REFRESH_INTERVAL: Final = 10.0
#: Keys older than this (seconds) are refetched before use; it matches the server's JWKS
#: ``Cache-Control`` and bounds how long a key the server has dropped is still believed.
JWKS_MAX_AGE: Final = 300.0
MAX_LEEWAY: Final = 30.0  # as the server's own ``token_leeway``


class TokenVerifier(Protocol):
    """Turns an access token into the principal it speaks for; raises on anything else."""

    def verify(self, token: str) -> Principal: ...


class Decider(Protocol):
    """Decides whether a principal may do a permission in the principal's own tenant.

    Returns a :class:`Decision`; reason ``error`` (or raising) means it could not decide.
    """

    def decide(self, principal: Principal, permission: str) -> Decision: ...


class AccessRefused(Exception):
    """Why a request is refused, as an RFC 9457 problem. Raised by :class:`Gatekeeper` and
    answered by the handler each framework integration installs; it never reaches app code."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        code: str,
        challenge: str | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.code, self.challenge = code, challenge
        self.extensions = dict(extensions or {})

    @classmethod
    def unauthenticated(cls) -> AccessRefused:
        """No bearer token came: a bare challenge, no error code (RFC 6750 §3.1)."""
        detail = "a bearer token is required"
        code = AuthenticationFailed.code
        return cls(
            401, "unauthenticated", "Not authenticated", detail, code=code, challenge=_BEARER
        )

    @classmethod
    def invalid_token(cls) -> AccessRefused:
        """The token is malformed, forged, expired, or its session has ended (no more is said)."""
        return cls(
            401,
            "invalid_token",
            "Invalid token",
            "invalid or expired token",
            code=InvalidToken.code,
            challenge=f'{_BEARER} error="invalid_token"',
        )

    @classmethod
    def denied(cls, permission: str) -> AccessRefused:
        """The caller is authenticated but does not hold ``permission`` in its tenant."""
        detail = f"permission {permission!r} is required"
        extensions = {"permission": permission}
        return cls(
            403, "forbidden", "Forbidden", detail, code=PERMISSION_DENIED, extensions=extensions
        )

    @classmethod
    def unavailable(cls) -> AccessRefused:
        """Deciding failed; the cause is logged, never sent."""
        title = "Authorization unavailable"
        return cls(503, "decision_unavailable", title, title, code="decision_unavailable")

    @property
    def problem(self) -> dict[str, Any]:
        """The problem document: ``type``, ``title``, ``status``, ``detail``, ``code`` and any
        extension members (``permission`` on a 403)."""
        return {
            "type": PROBLEM_BASE + self.slug,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            **self.extensions,
        }

    @property
    def headers(self) -> dict[str, str]:
        """The response headers: the ``WWW-Authenticate`` challenge of a 401."""
        return {"WWW-Authenticate": self.challenge} if self.challenge else {}


_BEARER: Final = "Bearer"
PERMISSION_DENIED: Final = "permission_denied"


def request_origin(
    principal: Principal,
    *,
    ip: str | None,
    user_agent: str | None,
    request_id: str | None,
    route: str,
) -> Origin:
    """The origin of an application's request, for the audit trail: the caller as actor."""
    return Origin(ip, user_agent, request_id, str(principal.user_id), route)


class Gatekeeper:
    """Runs a verifier and a decider for one request and turns every failure into a refusal."""

    def __init__(self, verifier: TokenVerifier, decider: Decider) -> None:
        self.verifier, self.decider = verifier, decider

    def authenticate(self, token: str | None) -> Principal:
        """The principal of ``token``, or :class:`AccessRefused` (401) for any failure."""
        if not token:
            raise AccessRefused.unauthenticated()
        try:
            return self.verifier.verify(token)
        except InvalidToken as exc:
            log.info("access token refused: %s", exc.reason)
        except Exception:
            log.exception("verifying an access token failed; refusing it")
        raise AccessRefused.invalid_token()

    def authorize(
        self, principal: Principal, permission: str, *, origin: Origin | None = None
    ) -> None:
        """Return if ``principal`` holds ``permission``; else :class:`AccessRefused`: 403
        when denied, 503 when the decider could not decide. A local decider records a denial
        in the audit trail with ``origin`` (the request's address, agent and id)."""
        try:
            with acting_from(origin) if origin is not None else nullcontext():
                decision = self.decider.decide(principal, permission)
        except Exception:
            log.exception("deciding %r failed; refusing", permission)
            raise AccessRefused.unavailable() from None
        if decision.reason is Reason.ERROR:
            raise AccessRefused.unavailable()  # the decider has logged why
        if not decision.allowed:
            raise AccessRefused.denied(permission)


class LocalVerifier:
    """Verifies tokens with an embedded :class:`Rolegate`: signature, claims, and whether the
    session still lives, so a revoked session is refused on its next request."""

    def __init__(self, rolegate: Rolegate) -> None:
        self._rolegate = rolegate

    def verify(self, token: str) -> Principal:
        """The principal of a valid token of a live session; else :class:`InvalidToken`."""
        return self._rolegate.auth.verify(token)


class LocalDecider:
    """Decides with an embedded :class:`Rolegate`, from its in-memory snapshots."""

    def __init__(self, rolegate: Rolegate) -> None:
        self._rolegate = rolegate

    def decide(self, principal: Principal, permission: str) -> Decision:
        """``check`` on the principal's user and tenant; a denial is explained."""
        user, tenant = principal.user_id, principal.tenant_id
        if self._rolegate.check(user, permission, tenant=tenant):
            return Decision.allow()
        # check() answers a failure to decide as a plain "no"; explain() tells the two apart
        # (reason ``error``), so a broken database is a 503 and not a misleading 403. Only
        # denials pay for it. A grant committed between the two reads is honoured.
        return self._rolegate.explain(user, permission, tenant=tenant)


class RemoteJWKSVerifier:
    """Verifies tokens of a rolegate server with the public keys it publishes (JWKS), by the
    same rules as the server (:func:`rolegate.authn.tokens.decode_access_token`).

    Stateless: sessions are not consulted, so a token of a revoked session verifies until it
    expires (``ROLEGATE_ACCESS_TOKEN_TTL``, 10 minutes by default). Keys are fetched on first
    use, refetched when older than ``max_age`` and when a token names an unknown ``kid``
    (rotation), at most once per :data:`REFRESH_INTERVAL`. No keys, or keys that could not be
    refreshed within ``max_age``, refuse every token.
    """

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str] = ASYMMETRIC,
        leeway: float = 10.0,
        http_timeout: float = 2.0,
        max_age: float = JWKS_MAX_AGE,
        client: httpx.Client | None = None,
        timer: Callable[[], float] = time.time,
    ) -> None:
        allowed = frozenset(algorithms)
        # A public key set never holds an HMAC secret: HS256 here would let anyone who can
        # read the JWKS sign tokens (RFC 8725 §2.1).
        if not allowed or not allowed <= set(ASYMMETRIC):
            raise InvalidConfiguration(f"algorithms must be among {', '.join(ASYMMETRIC)}")
        if not 0 <= leeway <= MAX_LEEWAY:
            raise InvalidConfiguration(f"leeway must be between 0 and {MAX_LEEWAY:g} seconds")
        self._url, self._max_age, self._timer = jwks_url, max_age, timer
        self._rules = TokenRules(issuer, audience, allowed, float(leeway))
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=http_timeout)
        self._ring = KeyRing("", secret=None, passphrase=None)  # no algorithm: it never signs
        self._lock = threading.Lock()
        self._fetched_at: float | None = None
        self._attempted_at = float("-inf")

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; else :class:`InvalidToken`."""
        now = self._timer()
        if not self._is_fresh(now):
            self._refresh()
            if not self._is_fresh(now):
                raise InvalidToken(reason="jwks_unavailable")
        principal, _ = decode_access_token(
            token, self._ring, self._rules, now=now, reload=self._refresh
        )
        return principal

    def close(self) -> None:
        """Close the HTTP client, if this verifier made it."""
        if self._owns_client:
            self._client.close()

    def _is_fresh(self, now: float) -> bool:
        return self._fetched_at is not None and now - self._fetched_at <= self._max_age

    def _refresh(self) -> None:
        """Refetch the keys unless that was tried less than :data:`REFRESH_INTERVAL` ago. On
        failure the keys stay as they were (and go stale at ``max_age``)."""
        with self._lock:
            now = self._timer()
            if now - self._attempted_at < REFRESH_INTERVAL:
                return
            self._attempted_at = now
            try:
                self._ring.load(self._fetch())
            except Exception:  # whatever failed (network, document, a damaged key): no new keys
                log.warning("fetching the JWKS from %s failed", self._url, exc_info=True)
                return
            self._fetched_at = now

    def _fetch(self) -> list[StoredKey]:
        response = self._client.get(self._url)
        response.raise_for_status()
        document = response.json()
        entries = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(entries, list):
            raise TypeError("the response is not a JWK Set")
        # Every key is loaded as retired, so the ring never picks one to sign with; what it
        # needs of a stored key beyond the public JWK is therefore never read.
        return [
            StoredKey(jwk["kid"], jwk["alg"], jwk, "", False, True, None)
            for jwk in entries
            if self._is_usable(jwk)
        ]

    def _is_usable(self, jwk: object) -> bool:
        """A signature key of an allowed algorithm; others (encryption keys, keys of
        algorithms not allowed here) are skipped, not fatal."""
        return (
            isinstance(jwk, dict)
            and isinstance(jwk.get("kid"), str)
            and jwk.get("alg") in self._rules.algorithms
            and jwk.get("use", "sig") == "sig"
        )


class RemoteDecider:
    """Decides by asking a rolegate server: ``POST {base_url}/v1/tenants/{tenant}/check`` with
    a service account's bearer token, which must hold ``rolegate:check`` in the principals'
    tenants (or be a platform admin's).

    ``token`` is the token, or a function returning the current one (to follow renewals). Fails
    closed: a timeout, a network error, or any answer but a 200 with a boolean ``allowed`` means
    it cannot decide (a 503), never access. A 401 or 403 from the server too: they refuse this
    decider's own token (expired, revoked, lacking ``rolegate:check``), a misconfiguration to
    fix, logged as an error, and not the user's denial. The check API answers only whether; a
    denial is returned with reason ``no_role_grants_it`` (the server's ``/explain`` says why).
    """

    def __init__(
        self,
        base_url: str,
        *,
        token: str | Callable[[], str],
        http_timeout: float = 2.0,
        client: httpx.Client | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._token = token if callable(token) else lambda: token
        self._owns_client = client is None
        self._client = client or httpx.Client(timeout=http_timeout)

    def decide(self, principal: Principal, permission: str) -> Decision:
        """The server's answer for the principal's user in the principal's tenant."""
        url = f"{self._base}/v1/tenants/{principal.tenant_id}/check"
        body = {"user": str(principal.user_id), "permission": permission}
        try:
            headers = {"Authorization": f"Bearer {self._token()}"}
            response = self._client.post(url, json=body, headers=headers)
        except Exception:  # a timeout, a refused connection, a token source that failed
            log.warning("asking %s failed; cannot decide", url, exc_info=True)
            return Decision.deny(Reason.ERROR)
        allowed = _allowed(response)
        if allowed is None:
            return Decision.deny(Reason.ERROR)  # _allowed has logged why
        return Decision.allow() if allowed else Decision.deny(Reason.NO_ROLE_GRANTS_IT)

    def close(self) -> None:
        """Close the HTTP client, if this decider made it."""
        if self._owns_client:
            self._client.close()


def _allowed(response: httpx.Response) -> bool | None:
    """``allowed`` from a check API answer; None (logged) for any other answer."""
    url, status = response.request.url, response.status_code
    if status in (401, 403):
        log.error(
            "%s refused this decider's token (%d %s): renew it or grant it rolegate:check",
            url,
            status,
            _problem_code(response),
        )
        return None
    if status != 200:
        log.error("%s answered %d %s; cannot decide", url, status, _problem_code(response))
        return None
    try:
        allowed = response.json()["allowed"]
    except Exception:
        allowed = None
    if not isinstance(allowed, bool):
        log.error("%s answered 200 without a boolean 'allowed'; cannot decide", url)
        return None
    return allowed


def _problem_code(response: httpx.Response) -> str:
    """The ``code`` of a problem answer, for the log; empty for anything else."""
    try:
        code = response.json().get("code")
    except Exception:
        return ""
    return code if isinstance(code, str) else ""
