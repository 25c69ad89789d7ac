"""FastAPI dependencies: routes reach settings and the session manager only through these."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, WebSocket

from loquilex.config import Settings
from loquilex.server._limits import ConnectionCounts
from loquilex.session import SessionManager

__all__ = [
    "ManagerDep",
    "SettingsDep",
    "WsLimitsDep",
    "WsManagerDep",
    "WsSettingsDep",
    "get_manager",
    "get_settings",
]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_manager(request: Request) -> SessionManager:
    manager: SessionManager = request.app.state.manager
    return manager


def ws_settings(websocket: WebSocket) -> Settings:
    settings: Settings = websocket.app.state.settings
    return settings


def ws_manager(websocket: WebSocket) -> SessionManager:
    manager: SessionManager = websocket.app.state.manager
    return manager


def ws_limits(websocket: WebSocket) -> ConnectionCounts:
    counts: ConnectionCounts = websocket.app.state.connections
    return counts


SettingsDep = Annotated[Settings, Depends(get_settings)]
ManagerDep = Annotated[SessionManager, Depends(get_manager)]
WsSettingsDep = Annotated[Settings, Depends(ws_settings)]
WsManagerDep = Annotated[SessionManager, Depends(ws_manager)]
WsLimitsDep = Annotated[ConnectionCounts, Depends(ws_limits)]
