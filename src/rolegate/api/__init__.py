"""rolegate as an HTTP service: ``create_app(rolegate)`` builds the FastAPI app."""

from rolegate.api.app import create_app, create_app_from_settings

__all__ = ["create_app", "create_app_from_settings"]
