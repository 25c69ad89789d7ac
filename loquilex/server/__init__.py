"""The FastAPI control plane: app factory, routers, dependencies."""

from loquilex.server._app import create_app
from loquilex.server._runner import serve

__all__ = ["create_app", "serve"]
