"""``create_app(settings)``: the FastAPI application, its lifespan and its guards."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from loquilex import __version__
from loquilex.cluster import ClusterNode
from loquilex.config import Settings
from loquilex.server._errors import install_error_handlers
from loquilex.server._limits import ConnectionCounts
from loquilex.server._metrics import metrics_router
from loquilex.server._openai import (
    OPENAI_PREFIX,
    TranscriptionQueue,
    UploadLimit,
    openai_error,
    openai_router,
)
from loquilex.server._routes import health_router, models_router, sessions_router
from loquilex.server._security import bearer_token as _bearer
from loquilex.server._security import check_request, token_ok
from loquilex.server._ws import ws_router
from loquilex.session import SessionManager

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


#: Reachable without the bearer token: the page itself, liveness and the API description.
_PUBLIC = ("/", "/healthz", "/openapi.json", "/docs", "/schema/events")
#: Swagger UI's own files, served from the installed `swagger-ui-bundle` package: the API
#: page works offline and asks no CDN for anything.
_DOCS_ASSETS = "/docs-assets"


class _HostOriginGuard:
    """403 for HTTP requests with a foreign Host, or a foreign Origin on state changes; 401
    without the bearer token when one is configured. (WebSocket upgrades are checked in
    their route, before accepting.)"""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            reason = check_request(scope["method"], headers, self.settings)
            if reason is not None:
                await JSONResponse({"detail": reason}, status_code=403)(scope, receive, send)
                return
            path = scope["path"]
            public = path in _PUBLIC or path.startswith(("/ui/", _DOCS_ASSETS + "/"))
            if not public and not token_ok(self.settings, [_bearer(headers)]):
                challenge = {"WWW-Authenticate": "Bearer"}
                refusal: JSONResponse
                if path.startswith(OPENAI_PREFIX + "/"):
                    refusal = openai_error(
                        401,
                        "a valid API key (the server's bearer token) is required",
                        code="invalid_api_key",
                        headers=challenge,
                    )
                else:
                    refusal = JSONResponse(
                        {"detail": "a valid bearer token is required"},
                        status_code=401,
                        headers=challenge,
                    )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _node_url(settings: Settings) -> str:
    """Where other nodes and senders reach this one."""
    if settings.cluster.node_url:
        return settings.cluster.node_url
    host = settings.server.host
    if host in ("0.0.0.0", "::"):
        logger.warning(
            "cluster mode: listening on %s without cluster.node_url; other nodes are told "
            "127.0.0.1, which only works on one machine",
            host,
        )
        host = "127.0.0.1"
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{settings.server.port}"


def create_app(settings: Settings, manager: SessionManager | None = None) -> FastAPI:
    """Build the app. The lifespan loads and warms the default model once, and on shutdown
    stops every session (flushing open segments) before the process exits."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        mgr = manager or SessionManager(settings)
        app.state.manager = mgr
        app.state.loop = asyncio.get_running_loop()
        connections: ConnectionCounts = app.state.connections
        mgr.telemetry.watch(lambda: mgr.gauges(connections.open))
        await mgr.warm_up()
        node: ClusterNode | None = None
        if settings.cluster.redis_url is not None:
            node = ClusterNode(settings, _node_url(settings), mgr.list)
            mgr.cluster = node
            await node.start()
        mgr.start()
        logger.info("model %s loaded and warm", mgr.default_model)
        try:
            yield
        finally:
            await mgr.shutdown()
            if node is not None:
                await node.close()

    app = FastAPI(
        title="LoquiLex",
        version=__version__,
        summary="Local-first live captioning server",
        description="REST control plane and WebSocket event streams. The event envelope and "
        "every payload are described by the JSON Schema at `/schema/events`.",
        lifespan=lifespan,
        docs_url=None,  # FastAPI's page loads Swagger UI from a CDN; ours is local
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.transcriptions = TranscriptionQueue(settings.server.max_queued_transcriptions)
    app.state.connections = ConnectionCounts(
        max_open=settings.server.max_connections,
        max_unauthenticated=settings.server.max_unauthenticated,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(metrics_router)
    app.include_router(models_router)
    app.include_router(sessions_router)
    app.include_router(ws_router)
    app.include_router(openai_router)
    ui_dir = resources.files("loquilex") / "ui"
    app.mount("/ui", StaticFiles(directory=str(ui_dir)), name="ui")

    import swagger_ui_bundle

    app.mount(
        _DOCS_ASSETS,
        StaticFiles(directory=swagger_ui_bundle.swagger_ui_path),
        name="docs-assets",
    )

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The interactive API page, with every asset from this server."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="LoquiLex API",
            swagger_js_url=f"{_DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{_DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{_DOCS_ASSETS}/favicon-32x32.png",
        )

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        """The browser UI."""
        return FileResponse(str(ui_dir / "index.html"), media_type="text/html")

    app.add_middleware(UploadLimit, settings=settings)
    app.add_middleware(_HostOriginGuard, settings=settings)  # outermost: runs first
    return app
