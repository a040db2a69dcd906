"""A documents API protected by rolegate, with Flask and an embedded Rolegate.

    ROLEGATE_DATABASE_URL=sqlite:///app.db flask --app examples/flask_app.py run

Call it with ``Authorization: Bearer <access token from rg.auth.login>``.
"""

from __future__ import annotations

import atexit
from collections import defaultdict
from typing import Any
from uuid import UUID

from flask import Flask, abort, request

from rolegate import Rolegate
from rolegate.integrations import LocalDecider, LocalVerifier
from rolegate.integrations.flask import RolegateFlask, current_principal, require_permission


def create_app() -> Flask:
    """The app, on the database ``ROLEGATE_DATABASE_URL`` names."""
    app = Flask(__name__)
    rg = Rolegate()
    atexit.register(rg.close)
    RolegateFlask(app, verifier=LocalVerifier(rg), decider=LocalDecider(rg))
    documents: dict[UUID, list[dict[str, Any]]] = defaultdict(list)  # by tenant; yours: a database

    @app.get("/documents")
    @require_permission("documents:read")
    def list_documents() -> list[dict[str, Any]]:
        return documents[current_principal.tenant_id]

    @app.post("/documents")
    @require_permission("documents:write")
    def create_document() -> tuple[dict[str, Any], int]:
        title = (request.get_json(silent=True) or {}).get("title")
        if not isinstance(title, str):
            abort(422, "a JSON body with a string 'title' is required")
        shelf = documents[current_principal.tenant_id]
        document = {"id": len(shelf) + 1, "title": title, "author": str(current_principal.user_id)}
        shelf.append(document)
        return document, 201

    return app
