"""Credentials never reach a log: uvicorn's access log keeps the path, never a token in it.

uvicorn logs each request as ``'%s - "%s %s HTTP/%s" %d'`` with the full target, query string
included, so ``GET /v1/auth/me?access_token=eyJ...`` would write the token to every log sink
(RFC 6750 §5.3; OWASP Logging Cheat Sheet: never log access tokens). Headers, and so an
``Authorization: Bearer`` token, are never logged by uvicorn or by rolegate.
"""

from __future__ import annotations

import logging
from typing import Final

from rolegate.audit.redact import redact_target

#: The loggers uvicorn writes request lines to.
ACCESS_LOGGERS: Final = ("uvicorn.access",)


class RedactCredentials(logging.Filter):
    """Rewrites a log record's string arguments with :func:`redact_target`; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact ``record`` in place and keep it."""
        if isinstance(record.args, tuple):
            record.args = tuple(
                redact_target(arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):  # a format string with arguments is left whole
            record.msg = redact_target(record.msg)
        return True


_FILTER: Final = RedactCredentials()


def redact_access_logs() -> None:
    """Install the redaction on uvicorn's access loggers (once, however often called): every
    app built by :func:`rolegate.api.app.create_app` does, so each server is covered."""
    for name in ACCESS_LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)  # addFilter ignores a filter already there
