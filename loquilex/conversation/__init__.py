"""The conversation layer over finals: speaker turns, semantics per turn, prosody."""

from loquilex.audio import measure_pitch
from loquilex.conversation._enricher import Enricher, FinalExtras, build_enricher
from loquilex.conversation._offline import diarize_as_configured, diarize_transcript
from loquilex.conversation._prosody import ProsodyTracker
from loquilex.conversation._semantics import (
    DEFAULT_RISK_LEXICON,
    Action,
    KeywordIndex,
    count_questions,
    find_actions,
    find_risks,
)
from loquilex.conversation._turns import Conversation, ConversationSettings, Turn

__all__ = [
    "DEFAULT_RISK_LEXICON",
    "Action",
    "Conversation",
    "ConversationSettings",
    "Enricher",
    "FinalExtras",
    "KeywordIndex",
    "ProsodyTracker",
    "Turn",
    "build_enricher",
    "count_questions",
    "diarize_as_configured",
    "diarize_transcript",
    "find_actions",
    "find_risks",
    "measure_pitch",
]
