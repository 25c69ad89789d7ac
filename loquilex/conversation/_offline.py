"""Speakers of a whole transcript at once (``loquilex transcribe``): every segment's voice
is embedded and its pitch measured, then all are clustered together, which beats deciding
one at a time."""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from loquilex.audio import measure_pitch
from loquilex.config import ConversationConfig
from loquilex.export import Transcript
from loquilex.speakers import (
    ClusterSettings,
    VoiceEncoder,
    cluster_offline,
    encoder_for,
    speaker_label,
)
from loquilex.speakers._encoder import SAMPLE_RATE

__all__ = ["cluster_settings", "diarize_as_configured", "diarize_transcript"]

_PAD_S = 0.1
_MAX_WINDOWS = 8


def diarize_transcript(
    transcript: Transcript,
    audio: npt.NDArray[np.float32],
    encoder: VoiceEncoder,
    settings: ClusterSettings | None = None,
) -> Transcript:
    """``transcript`` with every spoken segment's ``speaker_id`` set (``spk-0`` first)."""
    spoken = [i for i, s in enumerate(transcript.segments) if s.text.strip()]
    vectors, seconds, pitches = [], [], []
    for i in spoken:
        segment = transcript.segments[i]
        first = max(int((segment.start - _PAD_S) * SAMPLE_RATE), 0)
        last = min(int((segment.end + _PAD_S) * SAMPLE_RATE), len(audio))
        clip = audio[first:last] if last > first else audio[first : first + SAMPLE_RATE // 10]
        if clip.size == 0:
            clip = np.zeros(SAMPLE_RATE // 10, np.float32)
        embedding = encoder.embed(clip, max_windows=_MAX_WINDOWS)
        vectors.append(embedding.vector)
        seconds.append(embedding.speech_s)
        pitches.append(measure_pitch(clip))
    labels = cluster_offline(vectors, seconds, settings, pitches)
    speakers = dict(zip(spoken, labels, strict=True))
    segments = tuple(
        dataclasses.replace(s, speaker_id=speaker_label(speakers[i])) if i in speakers else s
        for i, s in enumerate(transcript.segments)
    )
    return dataclasses.replace(transcript, segments=segments)


def diarize_as_configured(
    transcript: Transcript,
    audio: npt.NDArray[np.float32],
    config: ConversationConfig,
    wanted: bool | None = None,
) -> Transcript:
    """Speakers by the user's settings: ``wanted`` None follows ``conversation.diarize``
    (quietly off without the voice encoder); True without the encoder raises
    :class:`~loquilex.errors.UnsupportedError`, saying how to install it."""
    encoder = encoder_for(wanted, config.diarize)
    if encoder is None:
        return transcript
    return diarize_transcript(transcript, audio, encoder, cluster_settings(config))


def cluster_settings(config: ConversationConfig) -> ClusterSettings:
    """How speakers are told apart, live and offline, from the user's settings."""
    return ClusterSettings(
        threshold=config.speaker_threshold,
        max_speakers=config.max_speakers,
        pitch_gap_st=config.speaker_pitch_gap_st,
    )
