"""The FastAPI control plane: app factory, routers, dependencies."""

from loquilex.server._app import create_app

__all__ = ["create_app"]
