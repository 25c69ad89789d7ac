"""SessionManager: creates, finds, controls and shuts down sessions of both kinds."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from loquilex.asr import AsrEngine, DecodeScheduler, StreamConfig, WhisperEngine
from loquilex.config import Settings
from loquilex.errors import (
    DeviceBusyError,
    SessionLimitError,
    SessionNotFoundError,
    UnsupportedError,
)
from loquilex.models import ModelStore, load_configured
from loquilex.session._base import Session
from loquilex.session._config import SessionConfig
from loquilex.session._streaming import StreamingSession
from loquilex.session._subprocess import SubprocessSession
from loquilex.session._transcript import transcript_path

__all__ = ["SessionManager"]

logger = logging.getLogger(__name__)


class SessionManager:
    """Owns every live session, the shared scheduler, and one engine per loaded model."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore(settings.data_dir)
        self.scheduler = DecodeScheduler(workers=settings.asr.workers)
        self._engines: dict[tuple[str, str], AsrEngine] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.default_model = settings.asr.model or self.store.get_default()

    # -- models ------------------------------------------------------------------------------
    async def engine(self, model: str | None, device: str | None) -> tuple[str, AsrEngine]:
        """The shared engine for a model (loaded once, off the event loop)."""
        model_id = model or self.default_model
        device = device or self.settings.asr.device
        key = (model_id, device)
        engine = self._engines.get(key)
        if engine is None:
            asr = self.settings.asr
            path = self.store.resolve(model_id)
            whisper = await asyncio.to_thread(load_configured, path, asr, device)
            engine = WhisperEngine(whisper, asr.language)
            self._engines[key] = engine
        return model_id, engine

    async def warm_up(self) -> None:
        """Load the default model and run one decode, so the first session starts hot."""
        import numpy as np

        _, engine = await self.engine(None, None)
        tone = (0.1 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000)).astype(np.float32)
        await asyncio.to_thread(engine.decode, tone)

    # -- sessions ----------------------------------------------------------------------------
    def _stream_config(self, config: SessionConfig) -> tuple[StreamConfig, dict[str, Any]]:
        overrides: dict[str, Any] = config.stream.model_dump(exclude_none=True)
        return self.settings.stream.with_overrides(overrides), overrides

    async def create(self, config: SessionConfig) -> Session:
        if config.translate:
            raise UnsupportedError(
                "translation is not available in this installation (no MT model is installed)"
            )
        async with self._lock:
            active = [s for s in self._sessions.values() if not s.ended]
            if len(active) >= self.settings.server.max_sessions:
                raise SessionLimitError(
                    f"the server already runs {len(active)} sessions "
                    f"(server.max_sessions = {self.settings.server.max_sessions})"
                )
            if config.source == "mic" and any(s.config.source == "mic" for s in active):
                raise DeviceBusyError("the microphone is already used by another session")
            session: Session
            server = self.settings.server
            if config.source == "file" and not await asyncio.to_thread(_is_file, config.path):
                raise UnsupportedError(f"no audio file at {config.path} on the server")
            stream_config, overrides = self._stream_config(config)
            if config.mode == "subprocess":
                model_id = config.model or self.default_model
                self.store.resolve(model_id)  # fail now, with a clear error
                session = SubprocessSession(
                    config,
                    model_id=model_id,
                    model_arg=config.model,
                    stream_settings=overrides,
                    data_dir=self.settings.data_dir,
                    replay_events=server.replay_events,
                    replay_age_s=server.replay_age_s,
                )
            else:
                model_id, engine = await self.engine(config.model, config.device)
                session = StreamingSession(
                    config,
                    engine=engine,
                    scheduler=self.scheduler,
                    stream_config=stream_config,
                    model_id=model_id,
                    data_dir=self.settings.data_dir,
                    replay_events=server.replay_events,
                    replay_age_s=server.replay_age_s,
                )
            self._sessions[session.id] = session
        try:
            await session.start()
        except BaseException:
            self._sessions.pop(session.id, None)
            raise
        logger.info("session %s started (%s, %s)", session.id, session.kind, config.source)
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFoundError(f"no session {session_id}")
        return session

    def by_stream(self, stream_id: str) -> Session:
        for session in self._sessions.values():
            if session.stream_id == stream_id:
                return session
        raise SessionNotFoundError(f"no session with stream {stream_id}")

    def list(self) -> list[Session]:
        return list(self._sessions.values())

    def transcript_file(self, session_id: str) -> Path:
        path = transcript_path(self.settings.data_dir, session_id)
        if not path.is_file():
            raise SessionNotFoundError(f"no session {session_id}")
        return path

    # -- the audio client's connection ---------------------------------------------------------
    def audio_attached(self, session: Session) -> None:
        """The client sending a session's audio is (back) on line: cancel any grace timer."""
        timer = self._grace.pop(session.id, None)
        if timer is not None:
            timer.cancel()
            logger.info("session %s: audio client resumed", session.id)

    def audio_detached(self, session: Session) -> None:
        """The audio client dropped: give it ``resume_grace_s`` to come back, then end the
        session as if it had sent END_SESSION (open segment finalized, transcript kept)."""
        grace = self.settings.server.resume_grace_s
        logger.info(
            "session %s: audio client gone; ending in %.0f s unless it resumes", session.id, grace
        )

        def expire() -> None:
            self._grace.pop(session.id, None)
            if not session.ended:
                task = asyncio.create_task(session.stop(), name=f"grace-{session.id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

        self.audio_attached(session)
        self._grace[session.id] = asyncio.get_running_loop().call_later(grace, expire)

    async def delete(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.stop()
        self._sessions.pop(session_id, None)

    async def shutdown(self, wait_s: float = 8.0) -> None:
        """Stop every session (flushing open segments) within ``wait_s``, then the workers."""
        for timer in self._grace.values():
            timer.cancel()
        self._grace.clear()
        sessions = [s for s in self._sessions.values() if not s.ended]
        if sessions:
            logger.info("stopping %d session(s)", len(sessions))
            await asyncio.gather(*(s.stop(wait_s) for s in sessions), return_exceptions=True)
        await asyncio.to_thread(self.scheduler.close, 2.0)


def _is_file(path: str | None) -> bool:
    return bool(path) and Path(path or "").is_file()
