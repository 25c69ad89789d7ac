"""``create_app(settings)``: the FastAPI application and its lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from loquilex import __version__
from loquilex.config import Settings
from loquilex.models import ModelStore, load_whisper

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(settings: Settings) -> FastAPI:
    """Build the app; the model is loaded and warmed once in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = ModelStore(settings.data_dir)
        asr = settings.asr
        path = store.resolve(asr.model)
        model = await asyncio.to_thread(
            load_whisper, path, asr.device, asr.compute_type, asr.cpu_threads
        )
        app.state.model = model
        app.state.model_id = asr.model or store.get_default()
        logger.info("model %s ready", app.state.model_id)
        yield

    app = FastAPI(title="LoquiLex", version=__version__, lifespan=lifespan)
    app.state.settings = settings

    @app.get("/healthz", tags=["health"])
    async def healthz(request: Request) -> dict[str, Any]:
        """Liveness and the loaded model."""
        return {"status": "ok", "version": __version__, "model": request.app.state.model_id}

    return app
