"""SubprocessSession: ``loquilex live --jsonl`` in its own process group, relayed.

Isolation: a crash of the child (or of the model inside it) becomes an ``ERROR
SESSION_ERROR`` and a ``STATUS error`` on this session; the server lives on. The child's
events are re-stamped with this session's stream id and event ids, so clients see one
ordinary stream. Pause and resume are SIGSTOP/SIGCONT, finalize is SIGUSR1, stop is SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from loquilex.errors import SessionError
from loquilex.protocol import (
    FinalizedPayload,
    FinalSegment,
    SnapshotPayload,
    server_event_adapter,
)
from loquilex.session._base import SessionBase, SessionMirror
from loquilex.session._config import SessionConfig
from loquilex.session._transcript import session_dir
from loquilex.telemetry import Telemetry

__all__ = ["SubprocessSession"]

logger = logging.getLogger(__name__)

#: How often the child reports METRICS when the session did not ask for them.
CHILD_METRICS_S = 5.0

_RELAYED = ("PARTIAL", "FINALIZED", "TRANSLATION", "SPEAKER_TURN", "SEMANTIC_UPDATE", "METRICS")


class SubprocessSession(SessionBase):
    """A ``loquilex live`` child reading the microphone or a file."""

    kind: Literal["streaming", "subprocess"] = "subprocess"

    def __init__(
        self,
        config: SessionConfig,
        *,
        data_dir: Path,
        model_id: str,
        model_arg: str | None,
        stream_settings: dict[str, Any],
        replay_events: int = 1000,
        replay_age_s: float = 300.0,
        io: Executor | None = None,
        telemetry: Telemetry | None = None,
        mirror: SessionMirror | None = None,
    ) -> None:
        super().__init__(
            config,
            data_dir,
            model_id,
            replay_events=replay_events,
            replay_age_s=replay_age_s,
            io=io,
            telemetry=telemetry,
            mirror=mirror,
        )
        self._data_dir = data_dir
        self._model_arg = model_arg
        self._stream_settings = stream_settings
        self._proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._open: dict[str, dict[str, Any]] = {}  # segment id → last partial segment
        self._recent: list[dict[str, Any]] = []
        self._translations: dict[str, dict[str, Any]] = {}  # segment id → latest TRANSLATION
        self._child_stats: dict[str, Any] | None = None
        self._budgets: dict[str, Any] | None = None  # the child's latest METRICS
        self._audio_counted = 0.0  # of the child's audio seconds, those in telemetry
        self.stderr_path = session_dir(data_dir, self.id) / "child.stderr.log"

    def _command(self) -> list[str]:
        cmd = [sys.executable, "-m", "loquilex", "live", "--jsonl"]
        cmd += (
            ["--input", self.config.path or "mic"]
            if self.config.source == "file"
            else ["--input", "mic"]
        )
        if self.config.source == "file" and not self.config.realtime:
            cmd.append("--fast")
        # The child always reports its budgets: they feed /metrics, and are relayed as
        # METRICS events only to sessions that asked for them.
        cmd += ["--metrics-interval", str(self.config.metrics_interval_s or CHILD_METRICS_S)]
        if self._model_arg:
            cmd += ["--model", self._model_arg]
        if self.config.diarize is not None:
            cmd.append("--diarize" if self.config.diarize else "--no-diarize")
        if self.config.prosody:
            cmd.append("--prosody")
        if self.config.translate:
            cmd += ["--translate", self.config.target_lang]
            if self.config.mt_model:
                cmd += ["--mt-model", self.config.mt_model]
        return cmd

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["LX_DATA_DIR"] = str(self._data_dir)
        for key, value in self._stream_settings.items():
            env[f"LX_STREAM__{key.upper()}"] = str(value)
        return env

    async def start(self) -> None:
        self.stderr_path.parent.mkdir(parents=True, exist_ok=True)
        with self.stderr_path.open("wb") as stderr:
            self._proc = await asyncio.create_subprocess_exec(
                *self._command(),
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
                stdin=asyncio.subprocess.DEVNULL,
                env=self._env(),
                start_new_session=True,  # its own process group, for the signals
            )
        self.announce_start()
        self.state = "running"
        self._task = asyncio.create_task(self._relay(), name=f"subprocess-{self.id}")

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _signal(self, signum: signal.Signals) -> None:
        if self._proc is None or self._proc.returncode is not None:
            raise SessionError("the session's process is not running")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, signum)

    async def _relay(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        try:
            while line := await self._proc.stdout.readline():
                self._relay_line(line)
            returncode = await self._proc.wait()
        except asyncio.CancelledError:
            raise
        finally:
            if self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._proc.pid, signal.SIGKILL)
                await self._proc.wait()
        if returncode != 0 or self._child_stats is None:
            self._close_open_segments()
            self.fail(
                "SESSION_ERROR",
                f"the transcription process exited unexpectedly (status {returncode})",
                {"returncode": returncode, "stderr": self._stderr_tail()},
            )
        self.finish({"child": self._child_stats or {}, "returncode": returncode})

    def _relay_line(self, line: bytes) -> None:
        try:
            event = server_event_adapter.validate_json(line)
        except (ValidationError, ValueError):
            logger.warning("session %s: ignoring a malformed line from the child", self.id)
            return
        kind = event.type
        if kind == "METRICS":
            self._budgets = event.payload.model_dump(mode="json")
            self._count_audio(self._budgets.get("audio_s"))
            if not self.config.metrics_interval_s:
                return
        if kind in _RELAYED:
            self.publish(
                kind,
                event.payload,
                segment_id=event.segment_id,
                ts_audio_start=event.ts_audio_start,
                ts_audio_end=event.ts_audio_end,
            )
            if kind == "PARTIAL" and event.segment_id:
                self._open[event.segment_id] = event.payload.segment.model_dump(mode="json")
            elif kind == "FINALIZED" and event.segment_id:
                self._open.pop(event.segment_id, None)
                self._recent.append(
                    {
                        "segment_id": event.segment_id,
                        **event.payload.segment.model_dump(mode="json"),
                    }
                )
                del self._recent[:-50]
            elif kind == "TRANSLATION":
                payload = event.payload.model_dump(mode="json")
                self._translations[payload["source_segment_id"]] = payload
                while len(self._translations) > 64:
                    del self._translations[next(iter(self._translations))]
        elif kind == "STATUS" and event.payload.stage in ("operational", "stopping"):
            if self.state != "paused":
                self.status(event.payload.stage, event.payload.message)
        elif kind == "ERROR":
            self.publish("ERROR", event.payload)
        elif kind == "SESSION_ENDED":
            self._child_stats = dict(event.payload.stats)
            self._count_audio(self._child_stats.get("audio_s"))

    def _count_audio(self, audio_s: Any) -> None:
        """The child's audio so far, into the server's audio counter."""
        if self.telemetry is not None and isinstance(audio_s, int | float):
            if audio_s > self._audio_counted:
                self.telemetry.audio.inc(audio_s - self._audio_counted)
                self._audio_counted = float(audio_s)

    def _close_open_segments(self) -> None:
        """A crash leaves segments with partials and no final: close each with what was
        shown, so every segment still gets exactly one FINALIZED."""
        for segment_id, seg in list(self._open.items()):
            stable = seg.get("stable_text") or ""
            words = [w for w in seg.get("words", [])][: len(stable.split())]
            final = FinalSegment(
                start=seg["start"],
                end=seg["end"],
                text=stable,
                words=words,
                audio_state={"recovered": True},
            )
            self.publish(
                "FINALIZED",
                FinalizedPayload(segment=final, eou_reason="forced"),
                segment_id=segment_id,
                ts_audio_start=seg["start"],
                ts_audio_end=seg["end"],
            )
        self._open.clear()

    def _stderr_tail(self) -> str:
        try:
            data = self.stderr_path.read_bytes()[-2000:]
        except OSError:
            return ""
        return data.decode("utf-8", "replace").strip().splitlines()[-1:][0] if data.strip() else ""

    def push_audio(self, data: bytes, sequence: int | None) -> None:
        raise SessionError("subprocess sessions do not take pushed audio")

    async def pause(self) -> None:
        if self.state == "paused":
            return
        self._signal(signal.SIGSTOP)
        self.state = "paused"
        self.status("paused", "paused (process stopped)")

    async def resume(self) -> None:
        if self.state != "paused":
            return
        self._signal(signal.SIGCONT)
        self.state = "running"
        self.status("operational", "resumed")

    async def finalize(self) -> None:
        self._signal(signal.SIGUSR1)

    async def stop(self, wait_s: float = 10.0) -> None:
        if self._proc is None or self._task is None:
            return
        if self._proc.returncode is None:
            self.state = "stopping"
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGCONT)
                os.killpg(self._proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), wait_s)
        except TimeoutError:
            logger.warning("session %s child ignored SIGTERM; killing it", self.id)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            await self._task

    def kill(self) -> None:
        """For tests and emergencies: the child dies as if it crashed."""
        self._signal(signal.SIGKILL)

    def snapshot(self) -> SnapshotPayload:
        live = None
        if self._open:
            segment_id, seg = list(self._open.items())[-1]
            live = {"segment_id": segment_id, **seg}
        shown = [f["segment_id"] for f in self._recent] + ([live["segment_id"]] if live else [])
        return SnapshotPayload(
            recent_finals=list(self._recent),
            live_partial=live,
            last_event_id=self.emitter.last_event_id,
            translations=[self._translations[s] for s in shown if s in self._translations],
            turns=self.recent_turns(),
        )

    def metrics(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "pid": self.pid,
            "last_event_id": self.emitter.last_event_id,
            "subscribers": [
                {"queued": len(s), "dropped": dict(s.dropped_total)} for s in self.log.subscribers
            ],
            "child": self._child_stats,
            "budgets": self._budgets,
        }
