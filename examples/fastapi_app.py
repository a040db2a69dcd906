"""A documents API protected by rolegate, with FastAPI and an embedded Rolegate.

    ROLEGATE_DATABASE_URL=sqlite:///app.db uvicorn --factory examples.fastapi_app:create_app

Call it with ``Authorization: Bearer <access token from rg.auth.login>``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated
from uuid import UUID

from fastapi import Depends, FastAPI
from pydantic import BaseModel

from rolegate import Principal, Rolegate
from rolegate.integrations import LocalDecider, LocalVerifier
from rolegate.integrations.fastapi import install, require_permission

CanReadDocuments = Annotated[Principal, Depends(require_permission("documents:read"))]
CanWriteDocuments = Annotated[Principal, Depends(require_permission("documents:write"))]


class DocumentCreate(BaseModel):
    title: str


class DocumentRead(BaseModel):
    id: int
    title: str
    author: UUID


def create_app() -> FastAPI:
    """The app, on the database ``ROLEGATE_DATABASE_URL`` names."""
    rg = Rolegate()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        rg.close()

    app = FastAPI(title="documents", lifespan=lifespan)
    install(app, verifier=LocalVerifier(rg), decider=LocalDecider(rg))
    documents: dict[UUID, list[DocumentRead]] = defaultdict(list)  # by tenant; yours: a database

    @app.get("/documents")
    def list_documents(principal: CanReadDocuments) -> list[DocumentRead]:
        return documents[principal.tenant_id]

    @app.post("/documents", status_code=201)
    def create_document(body: DocumentCreate, principal: CanWriteDocuments) -> DocumentRead:
        shelf = documents[principal.tenant_id]
        document = DocumentRead(id=len(shelf) + 1, title=body.title, author=principal.user_id)
        shelf.append(document)
        return document

    return app
