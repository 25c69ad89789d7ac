"""SessionManager: creates, finds, controls, reaps and shuts down sessions of both kinds."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import hmac
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from loquilex._memory import release_free_memory
from loquilex.asr import AsrEngine, DecodeScheduler, StreamConfig, WhisperEngine
from loquilex.config import Settings
from loquilex.errors import (
    DeviceBusyError,
    MisdirectedError,
    ModelNotFoundError,
    NotSenderError,
    RateLimitedError,
    SessionLimitError,
    SessionNotFoundError,
    UnsupportedError,
)
from loquilex.export import Transcript
from loquilex.models import CATALOG, ModelStore, forget_model, load_configured
from loquilex.mt import CadenceSettings, MTStore, Translator, open_translator
from loquilex.session._base import Session, SessionMirror, ViewedSession
from loquilex.session._config import SessionConfig, is_session_id
from loquilex.session._streaming import StreamingSession
from loquilex.session._subprocess import SubprocessSession
from loquilex.session._transcript import (
    load_speaker_names,
    save_speaker_names,
    speaker_names_path,
    transcript_path,
)
from loquilex.session._translation import Translations
from loquilex.telemetry import Gauges, Telemetry

if TYPE_CHECKING:
    from loquilex.cluster import NodeInfo

__all__ = ["ClusterView", "SessionManager"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class ClusterView(SessionMirror, Protocol):
    """What the manager and the routes need of cluster mode (loquilex/cluster/_node.py)."""

    node_id: str

    async def view(self, session_id: str) -> ViewedSession | None: ...

    async def placement(self) -> list[NodeInfo]: ...

    async def nodes(self) -> list[NodeInfo]: ...

    async def session_info(self, session_id: str) -> dict[str, Any] | None: ...

    async def sessions(self, exclude: set[str]) -> list[dict[str, Any]]: ...

    async def transcript_lines(self, session_id: str) -> list[str] | None: ...

    def status(self) -> dict[str, Any]: ...

    async def view_stream(self, stream_id: str) -> ViewedSession | None: ...

    async def reap_views(self, now: float) -> None: ...


#: How often the reaper looks for abandoned, expired and ended sessions, and unused engines.
REAP_INTERVAL_S = 0.5
#: An engine loaded for a non-default model is dropped after this long without sessions.
ENGINE_IDLE_S = 60.0
#: How often freed heap memory is handed back to the OS (loquilex/_memory.py).
TRIM_INTERVAL_S = 60.0


class SessionManager:
    """Owns every live session, the shared scheduler, one engine per loaded model, and the
    executor that does the server's blocking work (model loads, file checks, transcripts)."""

    def __init__(self, settings: Settings, store: ModelStore | None = None) -> None:
        self.settings = settings
        self.store = store or ModelStore(settings.data_dir)
        self.scheduler = DecodeScheduler(workers=settings.asr.workers)
        self.executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="lx-io")
        self._engines: dict[tuple[str, str], AsrEngine] = {}
        self._engine_paths: dict[tuple[str, str], Path] = {}
        self._engine_idle: dict[tuple[str, str], float] = {}
        self._sessions: dict[str, Session] = {}
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[None]] = set()
        self.mt_store = MTStore(settings.data_dir)
        self._translators: dict[str, Translator] = {}
        self._reaper: asyncio.Task[None] | None = None
        self.default_model = settings.asr.model or self.store.get_default()
        self.telemetry = Telemetry()
        #: Cluster mode (loquilex/cluster): where sessions' events also go, and where
        #: other nodes' sessions are found. None on a single server.
        self.cluster: ClusterView | None = None

    async def run_blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` on the manager's executor: the event loop never blocks."""
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    # -- models ------------------------------------------------------------------------------
    async def engine(self, model: str | None, device: str | None) -> tuple[str, AsrEngine]:
        """The shared engine for a model (loaded once, off the event loop)."""
        model_id = model or self.default_model
        device = device or self.settings.asr.device
        key = (model_id, device)
        engine = self._engines.get(key)
        if engine is None:
            asr = self.settings.asr
            path = await self.run_blocking(self.store.resolve, model_id)
            whisper = await self.run_blocking(load_configured, path, asr, device)
            engine = WhisperEngine(whisper, asr.language)
            self._engines[key] = engine
            self._engine_paths[key] = path
        self._engine_idle.pop(key, None)
        return model_id, engine

    def _api_model(self, model: str | None) -> str | None:
        """Over the API a model is an installed model id, or a directory inside the models
        directory; any other path is refused with the same words whether it exists or not."""
        if model is None or model in CATALOG or model == self.default_model:
            return model
        root = self.store.models_dir.resolve()
        candidate = _inside(root, model, Path.is_dir)
        if candidate is not None and candidate != root:
            return str(candidate)
        raise ModelNotFoundError(
            f"unknown model {model[:80]!r}: use an installed model id ({', '.join(CATALOG)}) "
            "or a directory under the models directory; see `loquilex models list`"
        )

    def _api_file(self, path: str | None) -> str:
        """A file session reads only from ``server.media_dir`` (off when unset)."""
        media = self.settings.server.media_dir
        if media is None:
            raise UnsupportedError(
                "file sessions are off over the API: set LX_SERVER__MEDIA_DIR to the directory "
                "they may read from"
            )
        candidate = _inside(media.resolve(), path or "", Path.is_file)
        if candidate is None:
            raise UnsupportedError(f"no audio file {(path or '')[:200]!r} in the media directory")
        return str(candidate)

    async def warm_up(self) -> None:
        """Load the default model and run one decode, so the first session starts hot."""
        import numpy as np

        _, engine = await self.engine(None, None)
        tone = (0.1 * np.sin(np.arange(16000) * 2 * np.pi * 220 / 16000)).astype(np.float32)
        await self.run_blocking(engine.decode, tone)

    # -- sessions ----------------------------------------------------------------------------
    def _stream_config(self, config: SessionConfig) -> tuple[StreamConfig, dict[str, Any]]:
        overrides: dict[str, Any] = config.stream.model_dump(exclude_none=True)
        return self.settings.stream.with_overrides(overrides), overrides

    async def create(self, config: SessionConfig, *, client: str | None = None) -> Session:
        """Create and start a session asked for over the API. With ``client`` (the address
        of a `/stream` connection) that client becomes its sender, within its stream limit."""
        model = self._api_model(config.model)
        translations = await self.translations(config)
        if config.source == "file":
            path = await self.run_blocking(self._api_file, config.path)
            config = config.model_copy(update={"path": path})
        async with self._lock:
            active = [s for s in self._sessions.values() if not s.ended]
            if len(active) >= self.settings.server.max_sessions:
                raise SessionLimitError(
                    f"the server already runs {len(active)} sessions "
                    f"(server.max_sessions = {self.settings.server.max_sessions})"
                )
            if client is not None:
                self._check_stream_limit(client, active)
            if config.source == "mic" and any(s.config.source == "mic" for s in active):
                raise DeviceBusyError("the microphone is already used by another session")
            session = await self._build(config, model, translations)
            self._sessions[session.id] = session
        try:
            await session.start()
        except BaseException:
            self._sessions.pop(session.id, None)
            raise
        self.telemetry.sessions_started.labels(session.kind).inc()
        logger.info("session %s started (%s, %s)", session.id, session.kind, config.source)
        return session

    async def _build(
        self, config: SessionConfig, model: str | None, translations: Translations | None
    ) -> Session:
        server = self.settings.server
        stream_config, overrides = self._stream_config(config)
        common: dict[str, Any] = {
            "data_dir": self.settings.data_dir,
            "replay_events": server.replay_events,
            "replay_age_s": server.replay_age_s,
            "io": self.executor,
            "telemetry": self.telemetry,
            "mirror": self.cluster,
        }
        if config.mode == "subprocess":
            model_id = model or self.default_model
            await self.run_blocking(self.store.resolve, model_id)  # fail now, clearly
            return SubprocessSession(
                config, model_id=model_id, model_arg=model, stream_settings=overrides, **common
            )
        model_id, engine = await self.engine(model, config.device)
        return StreamingSession(
            config,
            engine=engine,
            scheduler=self.scheduler,
            stream_config=stream_config,
            model_id=model_id,
            max_backlog_s=server.max_backlog_s,
            translations=translations,
            conversation=self.settings.conversation,
            **common,
        )

    # -- translation -------------------------------------------------------------------------
    async def translator(self, model_id: str | None) -> Translator:
        """A loaded translator, shared by the sessions that use the same model."""
        key = model_id or self.settings.mt.model or ""
        translator = self._translators.get(key)
        if translator is None:
            translator = await self.run_blocking(
                open_translator, self.mt_store, self.settings.mt, model_id
            )
            self._translators[key] = translator
        return translator

    async def translations(self, config: SessionConfig) -> Translations | None:
        """The live translation a session asked for, or None; fails now, with a 422 that
        says what to install, rather than once audio flows."""
        if not config.translate:
            return None
        translator = await self.translator(config.mt_model)
        if config.target_lang not in translator.languages():
            raise UnsupportedError(
                f"translation model {translator.name} does not translate into "
                f"{config.target_lang!r}; it offers {', '.join(translator.languages()) or 'none'}"
            )
        mt = self.settings.mt
        return Translations(
            translator,
            config.target_lang,
            cadence=CadenceSettings.from_settings(mt),
        )

    def _check_stream_limit(self, client: str, active: list[Session]) -> None:
        limit = self.settings.server.max_streams_per_client
        mine = sum(1 for s in active if s.sender_client == client)
        if mine >= limit:
            raise RateLimitedError(
                f"this client already sends audio to {mine} sessions "
                f"(server.max_streams_per_client = {limit})",
                streams=mine,
            )

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionNotFoundError(f"no session {session_id[:64]}")
        return session

    async def find(self, session_id: str) -> ViewedSession:
        """A session to view: one of ours, or in cluster mode another node's."""
        session = self._sessions.get(session_id)
        if session is not None:
            return session
        if self.cluster is not None and is_session_id(session_id):
            remote = await self.cluster.view(session_id)
            if remote is not None:
                return remote
        raise SessionNotFoundError(f"no session {session_id[:64]}")

    async def find_stream(self, stream_id: str) -> ViewedSession:
        """The session of a stream id (RESUME_SESSION), here or on another node."""
        try:
            return self.by_stream(stream_id)
        except SessionNotFoundError:
            if self.cluster is None:
                raise
        remote = await self.cluster.view_stream(stream_id[:64])
        if remote is None:
            raise SessionNotFoundError(f"no session with stream {stream_id[:64]}")
        return remote

    async def control(self, session_id: str, key: str | None) -> Session:
        """:meth:`controlled`; in cluster mode, another node's session is refused with
        its owner's URL (421)."""
        await self._refuse_elsewhere(session_id)
        return self.controlled(session_id, key)

    async def _refuse_elsewhere(self, session_id: str) -> None:
        """MisdirectedError if another node of the cluster runs (or ran) the session."""
        if session_id in self._sessions or self.cluster is None:
            return
        info = await self.cluster.session_info(session_id)
        if info is not None and info["node_id"] != self.cluster.node_id:
            raise MisdirectedError(
                f"this session runs on node {info['node_id']} at {info['node_url']}: ask that node",
                owner_url=info["node_url"],
                node_id=info["node_id"],
            )

    def controlled(self, session_id: str, key: str | None) -> Session:
        """The session, for a caller that controls it (pause, resume, finalize, delete):
        it must present the session's sender key."""
        session = self.get(session_id)
        if key is None or not _same(key, session.sender_key):
            raise NotSenderError(
                "controlling a session needs its sender key (header X-LoquiLex-Sender-Key)"
            )
        return session

    def by_stream(self, stream_id: str) -> Session:
        for session in self._sessions.values():
            if session.stream_id == stream_id:
                return session
        raise SessionNotFoundError(f"no session with stream {stream_id[:64]}")

    def list(self) -> list[Session]:
        return list(self._sessions.values())

    def gauges(self, connections: int = 0) -> Gauges:
        """The present, for ``/metrics``: sessions running by kind, client queues, backlog."""
        running = [s for s in self._sessions.values() if not s.ended]
        queues = [len(sub) for s in running for sub in s.log.subscribers]
        return Gauges(
            sessions=dict(collections.Counter(s.kind for s in running)),
            queue_depth_max=max(queues, default=0),
            subscribers=len(queues),
            scheduler_backlog=self.scheduler.queue_depth,
            connections=connections,
        )

    async def transcript(self, session_id: str) -> Transcript:
        """A session's transcript as written so far, read off the event loop."""
        session = self._sessions.get(session_id)
        if session is not None:
            await self.run_blocking(session.transcript.wait_written, 5.0)
        try:
            path = await self.run_blocking(self.transcript_file, session_id)
        except SessionNotFoundError:
            lines = None
            if self.cluster is not None and is_session_id(session_id):
                lines = await self.cluster.transcript_lines(session_id)
            if lines is None:
                raise
            # Another node's session (also one whose node died): its finals from Redis.
            return Transcript.from_session_lines(lines)
        transcript = await self.run_blocking(Transcript.load, path)
        names = await self.speaker_names(session_id)
        if names:
            extra = {**transcript.extra, "speaker_names": names}
            transcript = dataclasses.replace(transcript, extra=extra)
        return transcript

    async def speaker_names(self, session_id: str) -> dict[str, str]:
        """The names people gave the session's speakers (empty until someone does); they
        live beside the transcript on the session's own node."""
        try:
            self.transcript_file(session_id)  # a known session, or SessionNotFoundError
        except SessionNotFoundError:
            await self._refuse_elsewhere(session_id)
            raise
        path = speaker_names_path(self.settings.data_dir, session_id)
        return await self.run_blocking(load_speaker_names, path)

    async def set_speaker_names(
        self, session_id: str, key: str | None, names: dict[str, str]
    ) -> dict[str, str]:
        """Name speakers (``spk-0`` → "Alice"); an empty name forgets one. Needs the
        sender key while the session is in memory; exports use the names from then on."""
        if session_id in self._sessions:
            self.controlled(session_id, key)
        else:
            try:
                self.transcript_file(session_id)
            except SessionNotFoundError:
                await self._refuse_elsewhere(session_id)
                raise
            raise NotSenderError("an ended session's speakers can no longer be renamed here")
        merged = {**await self.speaker_names(session_id), **names}
        merged = {k: v for k, v in merged.items() if v}
        path = speaker_names_path(self.settings.data_dir, session_id)
        await self.run_blocking(save_speaker_names, path, merged)
        return merged

    def transcript_file(self, session_id: str) -> Path:
        """The transcript of a session, also one that has left memory. Only a well-formed
        session id is ever joined to a path, and the result must lie in the sessions dir."""
        if not is_session_id(session_id):
            raise SessionNotFoundError(f"no session {session_id[:64]}")
        root = (self.settings.data_dir / "sessions").resolve()
        path = transcript_path(self.settings.data_dir, session_id).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise SessionNotFoundError(f"no session {session_id}")
        return path

    # -- who sends the audio ---------------------------------------------------------------
    def claim_sender(
        self, session: Session, owner: object, key: str | None, client: str | None
    ) -> None:
        """Make ``owner`` (a connection) the one that sends ``session``'s audio. It needs
        the session's sender key; a newer claim replaces an older one (a client that
        reconnected before its old socket was reaped)."""
        if not session.accepts_audio:
            raise UnsupportedError("this session does not take audio")
        if key is None or not _same(key, session.sender_key):
            raise NotSenderError("only the holder of this session's sender key may send audio")
        if session.sender_client != client and client is not None:
            self._check_stream_limit(client, [s for s in self._sessions.values() if not s.ended])
        if session.sender is not None and session.sender is not owner:
            logger.info("session %s: a new connection takes over sending", session.id)
        session.sender = owner
        session.sender_client = client
        session.had_sender = True
        session.unattended_since = None

    def release_sender(self, session: Session, owner: object) -> None:
        """``owner``'s connection closed. Only the current sender's leaving counts: the
        session then waits ``resume_grace_s`` for it, and ends as if END_SESSION came."""
        if session.sender is not owner:
            return
        session.sender = None
        session.unattended_since = time.monotonic()
        if not session.ended:
            logger.info(
                "session %s: audio client gone; ending in %.0f s unless it resumes",
                session.id,
                self.settings.server.resume_grace_s,
            )

    # -- housekeeping --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the reaper (the lifespan calls this once the loop runs)."""
        if self._reaper is None:
            self._reaper = asyncio.create_task(self._reap_forever(), name="session-reaper")

    async def _reap_forever(self) -> None:
        trimmed = time.monotonic()
        while True:
            await asyncio.sleep(REAP_INTERVAL_S)
            now = time.monotonic()
            self.reap(now)
            if self.cluster is not None:
                await self.cluster.reap_views(now)
            if now - trimmed >= TRIM_INTERVAL_S:
                trimmed = now
                await self.run_blocking(release_free_memory)

    def reap(self, now: float) -> None:
        """End push sessions nobody feeds, drop ended sessions after their retention, and
        unload engines no session uses."""
        server = self.settings.server
        for session in list(self._sessions.values()):
            if session.ended:
                ended = session.ended_mono or now
                if now - ended >= server.ended_retention_s:
                    self._sessions.pop(session.id, None)
                    session.log.close()
                    logger.debug("session %s left memory", session.id)
                continue
            since = session.unattended_since
            if not session.accepts_audio or session.sender is not None or since is None:
                continue
            limit = server.resume_grace_s if session.had_sender else server.idle_timeout_s
            if now - since >= limit:
                session.unattended_since = None  # once
                why = "its sender did not come back" if session.had_sender else "no one sent audio"
                logger.info("session %s: ending, %s within %.0f s", session.id, why, limit)
                self._spawn(session.stop(), f"expire-{session.id}")
        self._reap_engines(now)

    def _reap_engines(self, now: float) -> None:
        in_use = {
            (s.model_id, s.config.device or self.settings.asr.device)
            for s in self._sessions.values()
            if not s.ended
        }
        default = (self.default_model, self.settings.asr.device)
        for key in list(self._engines):
            if key == default or key in in_use:
                self._engine_idle.pop(key, None)
                continue
            idle_since = self._engine_idle.setdefault(key, now)
            if now - idle_since >= ENGINE_IDLE_S:
                del self._engines[key]
                self._engine_idle.pop(key, None)
                path = self._engine_paths.pop(key)
                forget_model(path)
                logger.info("unloaded model %s (unused for %.0f s)", key[0], ENGINE_IDLE_S)

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def delete(self, session_id: str) -> None:
        session = self.get(session_id)
        await session.stop()
        self._sessions.pop(session_id, None)
        session.log.close()

    async def shutdown(self, wait_s: float = 8.0) -> None:
        """Stop every session (flushing open segments) within ``wait_s``, then the workers."""
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
            self._reaper = None
        sessions = [s for s in self._sessions.values() if not s.ended]
        if sessions:
            logger.info("stopping %d session(s)", len(sessions))
            await asyncio.gather(*(s.stop(wait_s) for s in sessions), return_exceptions=True)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await asyncio.to_thread(self.scheduler.close, 2.0)
        # Waits for the transcripts' last lines (the sessions have stopped: no model loads).
        await asyncio.to_thread(self.executor.shutdown, wait=True)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode())


def _inside(root: Path, name: str, is_kind: Callable[[Path], bool]) -> Path | None:
    """``root / name`` resolved when it lies inside ``root`` and ``is_kind`` holds for it;
    None as well when it is no usable path at all (a NUL byte, a lone surrogate, a name
    longer than the file system allows): a client's name is refused, never an error."""
    try:
        candidate = (root / name).resolve()
        if not candidate.is_relative_to(root) or not is_kind(candidate):
            return None
    except (OSError, ValueError):  # UnicodeEncodeError is a ValueError
        return None
    return candidate
