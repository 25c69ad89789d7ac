"""An OpenAI-compatible transcription API: ``POST /v1/audio/transcriptions`` and
``GET /v1/models``, for the tools that already speak OpenAI's audio API.

It runs on this machine like everything else: the bearer token (when set) is the API key,
uploads are capped (413), and errors come in OpenAI's shape, ``{"error": {message, type,
param, code}}``. A whole file is transcribed by a copy of the model of its own whose threads
yield the CPU to live captions, one file at a time; a few more may wait, others get a 429.
"""

from __future__ import annotations

import asyncio
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from loquilex.asr import transcribe_array
from loquilex.audio import decode_file
from loquilex.config import Settings
from loquilex.conversation import diarize_as_configured
from loquilex.errors import AudioDecodeError, LoquiLexError, ModelError
from loquilex.export import Transcript, render
from loquilex.models import load_whisper
from loquilex.server._deps import ManagerDep
from loquilex.server._json import SafeJSONResponse
from loquilex.session import SessionManager

__all__ = ["OPENAI_PREFIX", "OpenAIError", "UploadLimit", "openai_error", "openai_router"]

OPENAI_PREFIX = "/v1"
#: The name OpenAI's clients send by default: the server's default model here.
DEFAULT_ALIAS = "whisper-1"

openai_router = APIRouter(prefix=OPENAI_PREFIX, tags=["openai"])

ResponseFormat = Literal["json", "text", "srt", "vtt", "verbose_json", "diarized_json"]

#: Whisper's language codes a client is likely to send, and the names verbose_json reports.
LANGUAGE_NAMES = {
    "en": "english",
    "zh": "chinese",
    "de": "german",
    "es": "spanish",
    "ru": "russian",
    "ko": "korean",
    "fr": "french",
    "ja": "japanese",
    "pt": "portuguese",
    "tr": "turkish",
    "pl": "polish",
    "ca": "catalan",
    "nl": "dutch",
    "ar": "arabic",
    "sv": "swedish",
    "it": "italian",
    "id": "indonesian",
    "hi": "hindi",
    "fi": "finnish",
    "vi": "vietnamese",
    "he": "hebrew",
    "uk": "ukrainian",
    "el": "greek",
    "cs": "czech",
    "ro": "romanian",
    "da": "danish",
    "hu": "hungarian",
    "no": "norwegian",
    "th": "thai",
}


class OpenAIError(Exception):
    """An error to answer in OpenAI's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code


def openai_error(
    status: int,
    message: str,
    *,
    type: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> SafeJSONResponse:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return SafeJSONResponse(body, status_code=status, headers=headers)


def error_response(exc: OpenAIError) -> SafeJSONResponse:
    return openai_error(exc.status, exc.message, type=exc.type, param=exc.param, code=exc.code)


class UploadLimit:
    """ASGI guard in front of the upload route: a body over ``server.max_upload_mb`` is a
    413 before any of it is read, and a body of unknown length a 411 (the HTTP server holds
    a body to its declared length, so the cap is exact)."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.limit = int(settings.server.max_upload_mb * 1024 * 1024)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(f"{OPENAI_PREFIX}/audio/"):
            headers = dict(scope["headers"])
            length = headers.get(b"content-length")
            if scope["method"] == "POST" and length is None:
                response = openai_error(411, "send the upload with a Content-Length")
                await response(scope, receive, send)
                return
            if length is not None and (not length.isdigit() or int(length) > self.limit):
                mb = self.limit / (1024 * 1024)
                response = openai_error(
                    413,
                    f"the upload is larger than this server takes ({mb:g} MB; "
                    "server.max_upload_mb)",
                    code="file_too_large",
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


class TranscriptionQueue:
    """One whole-file transcription at a time; ``waiting`` more may queue for it."""

    def __init__(self, waiting: int) -> None:
        self.waiting = waiting
        self._queued = 0
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> None:
        if self._queued >= self.waiting + 1:
            raise OpenAIError(
                429,
                f"{self._queued} transcriptions are already queued here; retry later "
                "(server.max_queued_transcriptions)",
                type="rate_limit_error",
                code="rate_limit_exceeded",
            )
        self._queued += 1
        try:
            await self._lock.acquire()
        except BaseException:
            self._queued -= 1
            raise

    async def __aexit__(self, *exc: object) -> None:
        self._lock.release()
        self._queued -= 1


def _model_id(manager: SessionManager, requested: str) -> str:
    """The installed model a request names (``whisper-1`` is the default model)."""
    if requested in (DEFAULT_ALIAS, "", manager.default_model):
        return manager.default_model
    installed = {st.spec.id for st in manager.store.status() if st.installed}
    if requested not in installed:
        raise OpenAIError(
            404,
            f"the model {requested[:80]!r} does not exist here; installed: "
            f"{', '.join(sorted(installed))} (or {DEFAULT_ALIAS!r} for the default)",
            param="model",
            code="model_not_found",
        )
    return requested


def _language(model_id: str, requested: str | None) -> str | None:
    """The language to decode in; None lets a multilingual model detect it."""
    english_only = model_id.endswith(".en")
    if not requested:
        return "en" if english_only else None
    code = requested.strip().lower()
    if english_only and code != "en":
        raise OpenAIError(
            400,
            f"the model {model_id} transcribes English only; language {requested!r} needs a "
            "multilingual model (base, small)",
            param="language",
            code="unsupported_language",
        )
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if code not in _LANGUAGE_CODES:
        raise OpenAIError(
            400,
            f"unknown language {requested[:20]!r}: use an ISO-639-1 code such as 'en'",
            param="language",
        )
    return code


def _save_upload(upload: UploadFile) -> Path:
    """The upload in a temporary file of its own (deleted by the caller). Blocking."""
    fd, name = tempfile.mkstemp(prefix="lx-upload-", suffix=Path(upload.filename or "").suffix)
    with os.fdopen(fd, "wb") as out:
        upload.file.seek(0)
        shutil.copyfileobj(upload.file, out, 1 << 20)
    return Path(name)


def _transcribe(
    manager: SessionManager,
    path: Path,
    name: str,
    model_id: str,
    *,
    language: str | None,
    prompt: str | None,
    temperature: float | None,
    diarize: bool = False,
) -> Transcript:
    """Decode and transcribe (blocking: on the manager's executor); with ``diarize``, label
    each segment's speaker by clustering the whole file, as ``loquilex transcribe`` does."""
    try:
        audio = decode_file(path)
    except AudioDecodeError as exc:
        # The message names our temporary file; the client knows its file by its name.
        reason = str(exc).split(": ", 1)[-1]
        raise OpenAIError(400, f"{name}: {reason}", param="file", code="invalid_audio") from exc
    asr = manager.settings.asr
    model_path = manager.store.resolve(model_id)
    model = load_whisper(
        model_path, asr.device, asr.compute_type, asr.cpu_threads, 1, background=True
    )
    transcript = transcribe_array(
        model,
        audio,
        model_name=model_id,
        beam_size=asr.beam_size,
        language=language,
        prompt=prompt,
        temperature=temperature,
        decoder_details=True,
    )
    if not diarize:
        return transcript
    return diarize_as_configured(transcript, audio, manager.settings.conversation, wanted=True)


def _verbose(transcript: Transcript, granularities: set[str]) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": "transcribe",
        "language": LANGUAGE_NAMES.get(transcript.language, transcript.language),
        "duration": transcript.duration,
        "text": transcript.text,
    }
    if "segment" in granularities or not granularities:
        decoder = transcript.extra.get("decoder", [])
        body["segments"] = [
            {
                "id": s.id,
                "start": s.start,
                "end": s.end,
                "text": " " + s.text,
                "avg_logprob": s.avg_logprob,
                "no_speech_prob": s.no_speech_prob,
                **(decoder[i] if i < len(decoder) else {}),
            }
            for i, s in enumerate(transcript.segments)
        ]
    if "word" in granularities:
        body["words"] = [
            {"word": w.w, "start": w.t0, "end": w.t1} for s in transcript.segments for w in s.words
        ]
    body["usage"] = {"type": "duration", "seconds": math.ceil(transcript.duration)}
    return body


def _speaker_letters(index: int) -> str:
    """OpenAI's labels for speakers without names: A, B, … Z, AA, AB, …"""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _diarized(transcript: Transcript) -> dict[str, Any]:
    """OpenAI's ``diarized_json``: spoken segments, each with its speaker's letter."""
    letters: dict[str | None, str] = {}
    segments: list[dict[str, Any]] = []
    for segment in transcript.segments:
        if not segment.text.strip():
            continue
        speaker = letters.setdefault(segment.speaker_id, _speaker_letters(len(letters)))
        segments.append(
            {
                "type": "transcript.text.segment",
                "id": f"seg_{len(segments)}",
                "start": segment.start,
                "end": segment.end,
                "text": segment.text,
                "speaker": speaker,
            }
        )
    return {
        "task": "transcribe",
        "duration": transcript.duration,
        "text": transcript.text,
        "segments": segments,
        "usage": {"type": "duration", "seconds": math.ceil(transcript.duration)},
    }


@openai_router.post(
    "/audio/transcriptions",
    responses={
        400: {"description": "Bad parameters, or a file that is not audio"},
        401: {"description": "Without the API key (the server's bearer token)"},
        404: {"description": "A model that is not installed"},
        413: {"description": "An upload over server.max_upload_mb"},
        429: {"description": "Too many transcriptions queued"},
    },
)
async def create_transcription(
    request: Request,
    manager: ManagerDep,
    file: Annotated[UploadFile, File(description="The audio file (anything PyAV decodes).")],
    model: Annotated[str, Form(max_length=200)] = DEFAULT_ALIAS,
    language: Annotated[str | None, Form(max_length=20)] = None,
    prompt: Annotated[str | None, Form(max_length=4000)] = None,
    response_format: Annotated[ResponseFormat, Form()] = "json",
    temperature: Annotated[float | None, Form(ge=0, le=1)] = None,
    timestamp_granularities: Annotated[
        list[Literal["word", "segment"]], Form(alias="timestamp_granularities[]")
    ] = [],  # noqa: B006 (FastAPI copies defaults)
) -> Response:
    """Transcribe a file, as OpenAI's `audio.transcriptions.create` does: `json` (`{text}`),
    `text`, `srt`, `vtt`, `verbose_json` (language, duration, segments, and words when
    `timestamp_granularities[]` asks for `word`) or `diarized_json` (segments labelled with
    speakers `A`, `B`, …; needs the voice encoder)."""
    try:
        model_id = _model_id(manager, model)
        lang = _language(model_id, language)
        path = await manager.run_blocking(_save_upload, file)
        try:
            async with request.app.state.transcriptions:
                transcript = await manager.run_blocking(
                    lambda: _transcribe(
                        manager,
                        path,
                        file.filename or "upload",
                        model_id,
                        language=lang,
                        prompt=prompt,
                        temperature=temperature,
                        diarize=response_format == "diarized_json",
                    )
                )
        finally:
            path.unlink(missing_ok=True)
    except OpenAIError as exc:
        return error_response(exc)
    except ModelError as exc:
        return openai_error(400, str(exc), param="model")
    except LoquiLexError as exc:
        return openai_error(400, str(exc))
    if response_format == "json":
        usage = {"type": "duration", "seconds": math.ceil(transcript.duration)}
        return JSONResponse({"text": transcript.text, "usage": usage})
    if response_format == "verbose_json":
        return JSONResponse(_verbose(transcript, set(timestamp_granularities)))
    if response_format == "diarized_json":
        return JSONResponse(_diarized(transcript))
    media = {"text": "text/plain", "srt": "application/x-subrip", "vtt": "text/vtt"}
    body = (
        transcript.text + "\n" if response_format == "text" else render(transcript, response_format)
    )
    return PlainTextResponse(body, media_type=media[response_format] + "; charset=utf-8")


@openai_router.get("/models")
async def list_models(manager: ManagerDep) -> dict[str, Any]:
    """The installed speech models, and `whisper-1`: the default model under OpenAI's name."""
    rows = []
    for st in await manager.run_blocking(manager.store.status):
        if st.installed:
            rows.append(_model_row(st.spec.id))
    return {"object": "list", "data": [_model_row(DEFAULT_ALIAS), *rows]}


def _model_row(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "loquilex"}
