"""faster-whisper/CTranslate2 engine tuned for short streaming windows.

``WhisperModel.transcribe`` pads every call to a 30 s encoder window: 0.45 CPU-s for tiny.en
on this class of machine, whatever the audio length, which would make a streaming re-decode
cadence unaffordable. Here the encoder sees only the window plus a second of silence
(≈0.03 s for 2 s of audio). Text said before the window goes in as the ``<|startofprev|>``
prompt, which CTranslate2 runs in one pass; known words at the start of the window are forced
as a decoder prefix (forced token by token, so kept short by the caller). Words are timed by
CTranslate2's cross-attention alignment. Everything reuses the loaded
``WhisperModel`` (its feature extractor, tokenizer and CTranslate2 model), so one model
serves batch transcription and every stream.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from loquilex.asr._engine import EngineCapabilities, Hypothesis, HypWord
from loquilex.audio import SAMPLE_RATE

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

__all__ = ["WhisperEngine"]

logger = logging.getLogger(__name__)

_PREPEND = "\"'“¿([{-"
_APPEND = "\"'.。,，!！?？:：”)]}、"
#: Frames of 10 ms; the encoder halves them, so keep an even count.
_HOP = 160
#: Generated tokens allowed per second of audio, plus a constant: fast speech is about
#: 4 tokens/s, so this bounds runaway loops without cutting real speech.
_TOKENS_PER_S = 6
_TOKENS_BASE = 8
#: Silence appended after the window: without it Whisper cannot tell that speech has ended
#: and tends to drop the last word or start the text over ("… morning. We are meeting …").
_TAIL_PAD_S = 1.0
#: Encoder input lengths are multiples of this many samples (0.5 s).
_BUCKET = SAMPLE_RATE // 2
#: Whisper's encoder hears at most 30 s.
_MAX_SAMPLES = 30 * SAMPLE_RATE


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 1.0


class WhisperEngine:
    """:class:`AsrEngine` over a loaded ``faster_whisper.WhisperModel``. Thread-safe:
    CTranslate2 runs concurrent calls on the model's replicas (``num_workers``), one each."""

    capabilities = EngineCapabilities(word_timestamps=True, max_window_s=30.0)

    def __init__(
        self, model: WhisperModel, language: str = "en", *, timestamps: bool = True
    ) -> None:
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._model = model
        multilingual = bool(model.model.is_multilingual)
        self._tokenizer = Tokenizer(
            model.hf_tokenizer,
            multilingual,
            task="transcribe",
            language=language if multilingual else "en",
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))
        # Timestamp mode costs two tokens a segment but lets Whisper say where speech ends,
        # which keeps it from inventing words at the edge of short windows.
        self.timestamps = timestamps

    @property
    def eot(self) -> int:
        """Token ids from this one up are not text (end of text, timestamps, …)."""
        return int(self._tokenizer.eot)

    def decode(
        self,
        audio: npt.NDArray[np.float32],
        *,
        prompt: str = "",
        prefix: Sequence[str] = (),
        beam_size: int = 1,
    ) -> Hypothesis:
        return self._decode(audio, prompt, list(prefix), beam_size)

    def time_words(
        self, audio: npt.NDArray[np.float32], token_groups: Sequence[Sequence[int]]
    ) -> list[list[HypWord]]:
        """Time text already recognised in ``audio`` (at most 30 s): one list of words per
        group of text tokens (the segments of one decode window, in order), all aligned
        together by cross-attention, as faster-whisper times words; seconds from the start
        of ``audio``."""
        encoded, _ = self._encode(audio)
        return self._align([list(g) for g in token_groups], encoded, int(len(audio) / _HOP))

    def _encode(self, audio: npt.NDArray[np.float32]) -> tuple[Any, int]:
        import ctranslate2

        # Round the padded length up to a whole bucket: the encoder then sees a handful of
        # input shapes instead of a new one per window, and the math library's per-shape
        # caches stop growing with session length.
        if len(audio) > _MAX_SAMPLES:
            raise ValueError(f"a window of {len(audio) / SAMPLE_RATE:.1f} s is over 30 s")
        total = len(audio) + int(_TAIL_PAD_S * SAMPLE_RATE)
        total = min(-(-total // _BUCKET) * _BUCKET, _MAX_SAMPLES)
        padded = np.zeros(total, np.float32)
        padded[: len(audio)] = audio
        features = self._model.feature_extractor(padded, padding=0)
        frames = features.shape[-1] - (features.shape[-1] % 2)
        features = np.ascontiguousarray(features[None, :, :frames], dtype=np.float32)
        encoded = self._model.model.encode(ctranslate2.StorageView.from_array(features))
        return encoded, frames

    def _decode(
        self, audio: npt.NDArray[np.float32], prompt: str, prefix: list[str], beam_size: int
    ) -> Hypothesis:
        tok = self._tokenizer
        encoded, _ = self._encode(audio)
        prefix_tokens = tok.encode(" " + " ".join(prefix)) if prefix else []
        previous = tok.encode(" " + prompt.strip())[-48:] if prompt.strip() else []
        sequence: list[int] = []
        if previous:
            sequence += [tok.sot_prev, *previous]
        sequence += tok.sot_sequence
        if self.timestamps:
            sequence.append(tok.timestamp_begin)
        else:
            sequence.append(tok.no_timestamps)
        sequence += prefix_tokens
        duration = len(audio) / SAMPLE_RATE
        max_new = int(duration * _TOKENS_PER_S) + _TOKENS_BASE
        result = self._model.model.generate(
            encoded,
            [sequence],
            beam_size=beam_size,
            patience=1,
            length_penalty=1,
            max_length=min(len(sequence) + max_new, 440),
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=not prefix_tokens,
            suppress_tokens=self._suppress,
            max_initial_timestamp_index=50,
        )[0]
        # Timestamp tokens only mark where Whisper thinks speech ends (which keeps it from
        # running past the audio); the words are timed by alignment.
        # The result repeats the forced prefix, which is not part of what was recognised.
        produced = [t for t in result.sequences_ids[0] if t < tok.eot]
        if produced[: len(prefix_tokens)] == prefix_tokens:
            produced = produced[len(prefix_tokens) :]
        seq_len = max(len(result.sequences_ids[0]), 1)
        avg_logprob = float(result.scores[0]) * seq_len / (seq_len + 1)
        words = self._align([prefix_tokens + produced], encoded, int(len(audio) / _HOP))[0]
        generated_text = tok.decode(produced)
        return Hypothesis(
            words=tuple(words),
            prefix_len=min(len(prefix), len(words)),
            avg_logprob=avg_logprob,
            no_speech_prob=float(result.no_speech_prob),
            compression_ratio=_compression_ratio(generated_text),
        )

    def _align(self, groups: list[list[int]], encoded: Any, frames: int) -> list[list[HypWord]]:
        """Display words for each group of text tokens, the groups aligned as one text."""
        tokens = [t for group in groups for t in group]
        if not tokens:
            return [[] for _ in groups]
        tok = self._tokenizer
        result = self._model.model.align(
            encoded, tok.sot_sequence, [tokens], max(frames, 2), median_filter_width=7
        )[0]
        text_indices = np.array([pair[0] for pair in result.alignments])
        time_indices = np.array([pair[1] for pair in result.alignments])
        if len(text_indices) == 0:
            return [[] for _ in groups]
        jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
        jump_times = time_indices[jumps] / 50.0  # 20 ms per encoder position
        probs = np.asarray(result.text_token_probs)
        limit = frames * _HOP / SAMPLE_RATE  # no word ends after the real audio
        out: list[list[HypWord]] = []
        offset = 0
        for group in groups:
            out.append(self._group_words(group, offset, jump_times, probs, limit))
            offset += len(group)
        return out

    def _group_words(
        self,
        group: list[int],
        offset: int,
        jump_times: npt.NDArray[np.float64],
        probs: npt.NDArray[np.float64],
        limit: float,
    ) -> list[HypWord]:
        """The words of one group, whose tokens start at ``offset`` in the aligned text."""
        from faster_whisper.transcribe import merge_punctuations

        tok = self._tokenizer
        words, word_tokens = tok.split_to_word_tokens([*group, tok.eot])
        if len(word_tokens) <= 1:
            return []
        boundaries = offset + np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
        alignment = []
        for index, (word, tokens) in enumerate(zip(words[:-1], word_tokens[:-1], strict=True)):
            i, j = int(boundaries[index]), int(boundaries[index + 1])
            t0 = float(jump_times[min(i, len(jump_times) - 1)])
            t1 = float(jump_times[min(j, len(jump_times) - 1)])
            alignment.append(
                {
                    "word": word,
                    "tokens": tokens,
                    "start": t0,
                    "end": t1,
                    "probability": float(np.mean(probs[i:j])) if j > i else 0.0,
                }
            )
        merge_punctuations(alignment, _PREPEND, _APPEND)
        # A piece without a leading space continues the word before it ("o" + "'clock").
        joined: list[dict[str, Any]] = []
        for item in alignment:
            if joined and item["word"] and not str(item["word"])[:1].isspace():
                prev = joined[-1]
                prev["word"] = str(prev["word"]) + str(item["word"])
                prev["end"] = item["end"]
                prev["probability"] = min(float(prev["probability"]), float(item["probability"]))
            elif item["word"]:
                joined.append(item)
        out: list[HypWord] = []
        for item in joined:
            text = str(item["word"]).strip()
            if not text:
                continue
            t0 = min(float(item["start"]), limit)
            t1 = min(max(float(item["end"]), t0), limit)
            out.append(
                HypWord(text, round(t0, 3), round(t1, 3), round(float(item["probability"]), 4))
            )
        return out
