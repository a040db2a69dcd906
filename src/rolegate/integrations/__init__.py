"""Protect your own application with rolegate: verify the caller's access token, then check one
permission, failing closed (401 unauthenticated, 403 denied, 503 cannot decide; never access).

The framework-free parts are here; the frameworks have their own modules, imported on demand
so Flask stays optional: :mod:`rolegate.integrations.fastapi`, :mod:`rolegate.integrations.flask`.
"""

from rolegate.integrations._core import (
    AccessRefused,
    Decider,
    Gatekeeper,
    LocalDecider,
    LocalVerifier,
    RemoteDecider,
    RemoteJWKSVerifier,
    TokenVerifier,
)

__all__ = [
    "AccessRefused",
    "Decider",
    "Gatekeeper",
    "LocalDecider",
    "LocalVerifier",
    "RemoteDecider",
    "RemoteJWKSVerifier",
    "TokenVerifier",
]
