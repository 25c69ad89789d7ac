"""Who is speaking: voice embeddings (GE2E, numpy) and speaker clustering, live and offline."""

from loquilex.speakers._cluster import (
    Assignment,
    ClusterSettings,
    OnlineSpeakers,
    cluster_offline,
    speaker_label,
    speaker_name,
)
from loquilex.speakers._diarizer import Attribution, Diarizer
from loquilex.speakers._encoder import Embedding, VoiceEncoder, encoder_for, shared_encoder
from loquilex.speakers._weights import encoder_weights_path

__all__ = [
    "Assignment",
    "Attribution",
    "ClusterSettings",
    "Diarizer",
    "Embedding",
    "OnlineSpeakers",
    "VoiceEncoder",
    "cluster_offline",
    "encoder_for",
    "encoder_weights_path",
    "shared_encoder",
    "speaker_label",
    "speaker_name",
]
