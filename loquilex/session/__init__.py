"""Sessions: the caption pipeline, the event log, and the two session kinds."""

from loquilex.session._base import (
    Session,
    SessionBase,
    SessionMirror,
    SessionState,
    ViewedSession,
)
from loquilex.session._config import (
    SESSION_ID_PATTERN,
    SessionConfig,
    StreamOverrides,
    is_session_id,
)
from loquilex.session._eventlog import DROP_ORDER, EventLog, Subscriber
from loquilex.session._manager import SessionManager
from loquilex.session._pipeline import CaptionPipeline, EventSink
from loquilex.session._streaming import StreamingSession
from loquilex.session._subprocess import SubprocessSession
from loquilex.session._transcript import transcript_record
from loquilex.session._translation import Translations

__all__ = [
    "DROP_ORDER",
    "SESSION_ID_PATTERN",
    "CaptionPipeline",
    "EventLog",
    "EventSink",
    "Session",
    "SessionBase",
    "SessionConfig",
    "SessionManager",
    "SessionMirror",
    "SessionState",
    "StreamOverrides",
    "StreamingSession",
    "SubprocessSession",
    "Subscriber",
    "Translations",
    "ViewedSession",
    "is_session_id",
    "transcript_record",
]
