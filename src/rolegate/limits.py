"""The sizes rolegate accepts beyond its names (those are in :mod:`rolegate.names`).

The services refuse a larger value with :class:`rolegate.errors.InvalidInput`; the HTTP API
publishes the same numbers in its OpenAPI document, so the two cannot drift.
"""

from __future__ import annotations

from typing import Final

#: The longest full name of a user.
MAX_FULL_NAME: Final = 200
#: The longest display name of a tenant.
MAX_TENANT_NAME: Final = 200
#: The longest description of a resource, a permission or a role.
MAX_DESCRIPTION: Final = 1000
#: The longest value of one audit-listing filter (actor, action, target, outcome).
MAX_FILTER_LENGTH: Final = 300
#: The most inheritance edges any chain of roles may have (``a`` inherits ``b`` inherits ...).
#: Deeper hierarchies are a modelling mistake, and the compiler walks them recursively.
MAX_INHERITANCE_DEPTH: Final = 32
