"""REST routes (SPEC §4): sessions, models, health, schema."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from loquilex import __version__
from loquilex.errors import NotFoundError, SessionNotFoundError
from loquilex.export import FORMATS, render
from loquilex.models import CATALOG
from loquilex.mt import CHAT_MODEL_ID, LANGUAGE_NAMES, MT_CATALOG
from loquilex.protocol import event_schema
from loquilex.server._deps import ManagerDep
from loquilex.server._placement import PLACED_HEADER, place_session
from loquilex.session import SESSION_ID_PATTERN, SessionConfig, SessionManager

__all__ = ["health_router", "models_router", "sessions_router"]

sessions_router = APIRouter(prefix="/sessions", tags=["sessions"])
models_router = APIRouter(tags=["models"])
health_router = APIRouter(tags=["health"])

#: Session ids are UUIDs; anything else is refused before it reaches a lookup or a path.
SessionId = Annotated[
    str, Path(pattern=SESSION_ID_PATTERN, max_length=36, description="A session id (UUID).")
]

#: The key `POST /sessions` returned: control routes need it.
SenderKey = Annotated[
    str | None,
    Header(
        alias="X-LoquiLex-Sender-Key",
        max_length=128,
        description="The session's `sender_key` from `POST /sessions`.",
    ),
]

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": "No such session",
        "content": {"application/json": {"example": {"detail": "no session 3f0c..."}}},
    },
    403: {"description": "Without the session's sender key"},
}


@sessions_router.post(
    "",
    status_code=201,
    responses={
        201: {
            "content": {
                "application/json": {
                    "example": {
                        "session_id": "6a1b4ac8-1f8d-4d7b-9c1b-0f3c0e2b9d11",
                        "stream_id": "str-0c0e9f52-3e7b-4c38-9b8a-8f3f8a3d2c11",
                        "sender_key": "kq3V0x2n8yQm1bJc4S7tR9uW5eZa6d",
                    }
                }
            }
        },
        409: {"description": "The microphone is already in use"},
        422: {"description": "Invalid body, unknown model, or unavailable feature"},
        429: {"description": "Too many sessions"},
    },
)
async def create_session(
    config: SessionConfig,
    manager: ManagerDep,
    request: Request,
    placed: Annotated[str | None, Header(alias=PLACED_HEADER, include_in_schema=False)] = None,
) -> Any:
    """Create and start a session. `sender_key` is the creator's alone: a push session takes
    audio on `/ws/{session_id}` only from the connection that presents it, and pause,
    resume, finalize and delete need it in the `X-LoquiLex-Sender-Key` header. Anyone else
    with the session id only views it.

    In cluster mode the session is placed on the least-loaded node with room, and
    `node_url` names it: the sender connects there (viewers may use any node)."""
    if manager.cluster is not None and placed is None:
        forwarded = await place_session(request, config, manager)
        if forwarded is not None:
            return forwarded
    session = await manager.create(config)
    body = {
        "session_id": session.id,
        "stream_id": session.stream_id,
        "sender_key": session.sender_key,
    }
    if manager.cluster is not None:
        body |= {"node_id": manager.cluster.node_id, "node_url": manager.cluster.node_url}
    return body


def _here(manager: SessionManager, info: dict[str, Any]) -> dict[str, Any]:
    if manager.cluster is None:
        return info
    return info | {"node_id": manager.cluster.node_id, "node_url": manager.cluster.node_url}


@sessions_router.get("")
async def list_sessions(manager: ManagerDep) -> list[dict[str, Any]]:
    """Every session this server runs or ran since it started; in cluster mode, every
    session of the cluster, each with the `node_id` and `node_url` that run it."""
    here = [_here(manager, s.info()) for s in manager.list()]
    if manager.cluster is None:
        return here
    others = await manager.cluster.sessions(exclude={s["session_id"] for s in here})
    return here + others


@sessions_router.get("/{session_id}", responses=_NOT_FOUND)
async def get_session(session_id: SessionId, manager: ManagerDep) -> dict[str, Any]:
    """Status, config and stats (for another node's session: as its node last reported)."""
    try:
        session = manager.get(session_id)
    except SessionNotFoundError:
        if manager.cluster is None:
            raise
        info = await manager.cluster.session_info(session_id)
        if info is None:
            raise
        return info
    return {**_here(manager, session.info()), "stats": session.metrics()}


@sessions_router.get("/{session_id}/snapshot", responses=_NOT_FOUND)
async def get_snapshot(session_id: SessionId, manager: ManagerDep) -> dict[str, Any]:
    """Recent finals and the live partial: what a screen shows now."""
    return (await manager.find(session_id)).snapshot().model_dump(mode="json")


@sessions_router.get("/{session_id}/metrics", responses=_NOT_FOUND)
async def get_metrics(session_id: SessionId, manager: ManagerDep) -> dict[str, Any]:
    """Decoding, lag and per-subscriber queue numbers (its own node has them all)."""
    return (await manager.find(session_id)).metrics()


@sessions_router.post("/{session_id}/pause", responses=_NOT_FOUND)
async def pause_session(
    session_id: SessionId, manager: ManagerDep, key: SenderKey = None
) -> dict[str, Any]:
    """Stop transcribing until resume (the open segment is finalized first)."""
    session = await manager.control(session_id, key)
    await session.pause()
    return {"session_id": session.id, "state": session.state}


@sessions_router.post("/{session_id}/resume", responses=_NOT_FOUND)
async def resume_session(
    session_id: SessionId, manager: ManagerDep, key: SenderKey = None
) -> dict[str, Any]:
    session = await manager.control(session_id, key)
    await session.resume()
    return {"session_id": session.id, "state": session.state}


@sessions_router.post("/{session_id}/finalize", responses=_NOT_FOUND)
async def finalize_session(
    session_id: SessionId, manager: ManagerDep, key: SenderKey = None
) -> dict[str, Any]:
    """Force the open segment to FINALIZED now."""
    session = await manager.control(session_id, key)
    await session.finalize()
    return {"session_id": session.id, "state": session.state}


@sessions_router.delete("/{session_id}", responses=_NOT_FOUND)
async def delete_session(
    session_id: SessionId, manager: ManagerDep, key: SenderKey = None
) -> dict[str, Any]:
    """Stop the session, flush its open segment as FINALIZED; the transcript is kept."""
    session = await manager.control(session_id, key)
    await manager.delete(session_id)
    return {
        "session_id": session.id,
        "state": session.state,
        "transcript": f"/sessions/{session.id}/transcript",
    }


class SpeakerNames(BaseModel):
    """People's names for a session's speakers; exports use them."""

    model_config = ConfigDict(extra="forbid")

    names: dict[Annotated[str, StringConstraints(pattern=r"^spk-[0-9]{1,3}$")], str] = Field(
        max_length=64, examples=[{"spk-0": "Alice", "spk-1": "Bob"}]
    )

    @field_validator("names")
    @classmethod
    def _short(cls, names: dict[str, str]) -> dict[str, str]:
        cleaned = {k: " ".join(v.split()) for k, v in names.items()}
        if any(len(v) > 60 for v in cleaned.values()):
            raise ValueError("a speaker name is at most 60 characters")
        return cleaned


@sessions_router.get("/{session_id}/speakers", responses=_NOT_FOUND)
async def get_speaker_names(session_id: SessionId, manager: ManagerDep) -> SpeakerNames:
    """The names given to the session's speakers (``spk-0`` …)."""
    return SpeakerNames(names=await manager.speaker_names(session_id))


@sessions_router.put("/{session_id}/speakers", responses=_NOT_FOUND)
async def put_speaker_names(
    session_id: SessionId, body: SpeakerNames, manager: ManagerDep, key: SenderKey = None
) -> SpeakerNames:
    """Name speakers; merged with the names already given, an empty name removes one. Needs
    the sender key (`X-LoquiLex-Sender-Key`) while the session is on this server."""
    names = await manager.set_speaker_names(session_id, key, body.names)
    return SpeakerNames(names=names)


_MEDIA = {
    "txt": "text/plain",
    "json": "application/json",
    "vtt": "text/vtt",
    "srt": "application/x-subrip",
}


@sessions_router.get("/{session_id}/transcript", responses=_NOT_FOUND)
async def get_transcript(
    session_id: SessionId,
    manager: ManagerDep,
    format: Literal["txt", "json", "vtt", "srt"] = Query(default="json"),
    bilingual: bool = Query(
        default=False, description="Add each segment's translation (VTT/SRT/TXT)."
    ),
) -> Response:
    """The finals so far (with their translations in JSON), also after the session ended or
    the server restarted."""
    transcript = await manager.transcript(session_id)
    body = render(transcript, format, bilingual=bilingual)
    name = f"{session_id}{'.bilingual' if bilingual else ''}.{format}"
    return PlainTextResponse(
        body,
        media_type=_MEDIA[format] + "; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@models_router.get("/models/asr")
async def asr_models(manager: ManagerDep) -> list[dict[str, Any]]:
    """Known speech models and whether they are installed here."""
    return [
        {
            "id": st.spec.id,
            "languages": list(st.spec.languages),
            "size_mb": st.spec.size_mb,
            "installed": st.installed,
            "default": st.spec.id == manager.default_model,
        }
        for st in manager.store.status()
    ]


@models_router.get("/models/mt")
async def mt_models(manager: ManagerDep) -> list[dict[str, Any]]:
    """Translation models: the catalogue and what is installed here (nothing ships with
    LoquiLex; `loquilex models install ID` or `models import DIR` adds one)."""
    installed = {m.id: m for m in await manager.run_blocking(manager.mt_store.installed)}
    rows: list[dict[str, Any]] = []
    for spec in MT_CATALOG.values():
        model = installed.pop(spec.id, None)
        rows.append(
            {
                "id": spec.id,
                "family": spec.family,
                "license": spec.license,
                "commercial": spec.commercial,
                "params_m": spec.params_m,
                "recommended": spec.recommended,
                "installed": model is not None,
                "languages": list(model.languages) if model else [],
                "install": f"loquilex models install {spec.id}",
            }
        )
    for model in installed.values():
        rows.append(
            {
                "id": model.id,
                "family": model.family,
                "backend": model.backend,
                "license": model.license,
                "commercial": model.commercial,
                "installed": True,
                "languages": list(model.languages),
            }
        )
    if manager.settings.mt.chat_url:
        rows.append(
            {
                "id": CHAT_MODEL_ID,
                "family": "chat",
                "installed": True,
                "languages": list(LANGUAGE_NAMES),
            }
        )
    return rows


@models_router.get("/languages/mt/{model_id}", responses={404: {"description": "Unknown model"}})
async def mt_languages(
    model_id: Annotated[str, Path(max_length=100)], manager: ManagerDep
) -> dict[str, Any]:
    """The target languages an installed translation model offers."""
    if model_id == CHAT_MODEL_ID and manager.settings.mt.chat_url:
        codes = list(LANGUAGE_NAMES)
    else:
        installed = {m.id: m for m in await manager.run_blocking(manager.mt_store.installed)}
        if model_id not in installed:
            raise NotFoundError(f"no translation model {model_id!r} is installed")
        codes = list(installed[model_id].languages)
    return {
        "model": model_id,
        "source": "en",
        "languages": [{"code": c, "name": LANGUAGE_NAMES.get(c, c)} for c in codes],
    }


@health_router.get("/healthz")
async def healthz(manager: ManagerDep) -> dict[str, Any]:
    """Liveness, the default model and how many sessions run."""
    return {
        "status": "ok",
        "version": __version__,
        "model": manager.default_model,
        "sessions": sum(1 for s in manager.list() if not s.ended),
        "formats": sorted(FORMATS),
        "models": [m for m in CATALOG],
        **({"cluster": manager.cluster.status()} if manager.cluster is not None else {}),
    }


@health_router.get("/cluster/nodes", responses={404: {"description": "Not in cluster mode"}})
async def cluster_nodes(manager: ManagerDep) -> list[dict[str, Any]]:
    """Cluster mode: the live nodes as the registry has them (id, URL, capacity, sessions
    running, load), least loaded first."""
    if manager.cluster is None:
        raise NotFoundError("not in cluster mode: set cluster.redis_url (serve --redis URL)")
    nodes = await manager.cluster.nodes()
    rows = [asdict(n) | {"load": round(n.load, 3)} for n in nodes]
    return sorted(rows, key=lambda r: (r["load"], r["id"]))


@health_router.get("/schema/events")
async def events_schema() -> dict[str, Any]:
    """JSON Schema of every server → client event."""
    return event_schema()
