"""Subtitle and text formats.

Cues follow common broadcast rules: at most two lines of at most 42 characters and at most
7 seconds on screen. Long segments are split at word boundaries using word timestamps;
segments without words get times shared out by character count.

Bilingual output (a transcript whose segments carry translations) puts the translation on a
line of its own under the English of each cue; when a segment takes several cues, its
translation is shared out over them in proportion to their English, cut after punctuation
where one is near. TXT puts the two side by side, separated by a tab.

Speakers (segments with a ``speaker_id``): VTT marks every cue with a voice span
(``<v Speaker 1>``), SRT and TXT prefix ``Speaker 1:`` where the speaker changes. Names
come from the transcript's ``speaker_names`` (set in the page) or default to ``Speaker N``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from loquilex.export._transcript import Segment, Transcript, Word
from loquilex.speakers import speaker_name

__all__ = ["FORMATS", "Cue", "render", "split_cues"]

MAX_LINE = 42
MAX_LINES = 2
MAX_CUE_S = 7.0


@dataclass(frozen=True, slots=True)
class Cue:
    """One subtitle: already wrapped lines and times in seconds."""

    start: float
    end: float
    lines: tuple[str, ...]
    speaker: str | None = None


def _wrap(words: Sequence[str], width: int = MAX_LINE) -> list[str]:
    """Greedy wrap at word boundaries; a word longer than ``width`` gets a line of its own."""
    lines: list[str] = []
    current = ""
    for word in words:
        candidate = f"{current} {word}" if current else word
        if len(candidate) <= width or not current:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines


def _words_of(segment: Segment) -> list[Word]:
    if segment.words:
        return [Word(w.w.strip(), w.t0, w.t1, w.conf) for w in segment.words if w.w.strip()]
    tokens = segment.text.split()
    if not tokens:
        return []
    total = sum(len(t) + 1 for t in tokens)
    span = max(segment.end - segment.start, 0.0)
    out, t = [], segment.start
    for token in tokens:
        dt = span * (len(token) + 1) / total
        out.append(Word(token, t, t + dt, 1.0))
        t += dt
    return out


def split_cues(segments: Sequence[Segment], *, bilingual: bool = False) -> list[Cue]:
    """Segments → cues that respect the line, line-count and duration limits (plus, when
    ``bilingual``, each cue's share of its segment's translation as a last line)."""
    cues: list[Cue] = []
    for segment in segments:
        words = _words_of(segment)
        groups: list[list[Word]] = []
        group: list[Word] = []
        for word in words:
            trial = [*group, word]
            fits = len(_wrap([w.w for w in trial])) <= MAX_LINES
            short = word.t1 - trial[0].t0 <= MAX_CUE_S
            if group and not (fits and short):
                groups.append(group)
                group = [word]
            else:
                group = trial
        if group:
            groups.append(group)
        shares: list[str] = [""] * len(groups)
        if bilingual and segment.translation and groups:
            shares = share_out(segment.translation, [sum(len(w.w) for w in g) for g in groups])
        for part, share in zip(groups, shares, strict=True):
            cue = _cue(part)
            lines = (*cue.lines, share) if share else cue.lines
            cues.append(Cue(cue.start, cue.end, lines, segment.speaker_id))
    return cues


_BREAKS = "，。？！；：,.?!;:"


def share_out(text: str, weights: Sequence[int]) -> list[str]:
    """Cut ``text`` into ``len(weights)`` pieces in proportion to ``weights``, each cut moved
    to just after a punctuation mark when one is within a few characters."""
    total = sum(weights) or 1
    pieces, start, acc = [], 0, 0
    for index, weight in enumerate(weights):
        acc += weight
        if index == len(weights) - 1:
            pieces.append(text[start:])
            break
        cut = round(len(text) * acc / total)
        near = [
            i + 1 for i in range(max(start, cut - 4), min(len(text), cut + 4)) if text[i] in _BREAKS
        ]
        if near:
            cut = min(near, key=lambda i: abs(i - cut))
        cut = max(cut, start)
        pieces.append(text[start:cut])
        start = cut
    return [piece.strip() for piece in pieces]


def _cue(group: list[Word]) -> Cue:
    start = group[0].t0
    end = max(group[-1].t1, start)
    return Cue(start, end, tuple(_wrap([w.w for w in group])))


def _timestamp(seconds: float, sep: str) -> str:
    ms = max(round(seconds * 1000), 0)
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}"


def _vtt_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _srt_clean(text: str) -> str:
    # SRT has no escaping; a literal arrow would be misread as a timing line by some players.
    return text.replace("-->", "->")


def _names(transcript: Transcript) -> Callable[[str], str]:
    custom: Mapping[str, str] = transcript.extra.get("speaker_names") or {}

    def name(speaker_id: str) -> str:
        return str(custom.get(speaker_id) or speaker_name(speaker_id))

    return name


def to_vtt(transcript: Transcript, *, bilingual: bool = False) -> str:
    name = _names(transcript)
    blocks = ["WEBVTT\n"]
    for index, cue in enumerate(split_cues(transcript.segments, bilingual=bilingual), start=1):
        timing = f"{_timestamp(cue.start, '.')} --> {_timestamp(cue.end, '.')}"
        lines = [_vtt_escape(line) for line in cue.lines]
        if cue.speaker is not None:
            # A voice span per line: players drop the tag's effect at a line break.
            voice = _vtt_escape(name(cue.speaker))
            lines = [f"<v {voice}>{line}</v>" for line in lines]
        text = "\n".join(lines)
        blocks.append(f"{index}\n{timing}\n{text}\n")
    return "\n".join(blocks)


def to_srt(transcript: Transcript, *, bilingual: bool = False) -> str:
    name = _names(transcript)
    blocks = []
    previous: str | None = None
    for index, cue in enumerate(split_cues(transcript.segments, bilingual=bilingual), start=1):
        timing = f"{_timestamp(cue.start, ',')} --> {_timestamp(cue.end, ',')}"
        lines = [_srt_clean(line) for line in cue.lines]
        if cue.speaker is not None and cue.speaker != previous:
            lines[0] = f"{_srt_clean(name(cue.speaker))}: {lines[0]}"
        previous = cue.speaker
        text = "\n".join(lines)
        blocks.append(f"{index}\n{timing}\n{text}\n")
    return "\n".join(blocks)


def to_txt(transcript: Transcript, *, bilingual: bool = False) -> str:
    name = _names(transcript)
    lines = []
    previous: str | None = None
    for segment in transcript.segments:
        line = " ".join(segment.text.split())
        if line and bilingual:
            line = f"{line}\t{segment.translation or ''}".rstrip("\t")
        if line and segment.speaker_id is not None:
            if segment.speaker_id != previous:
                line = f"{name(segment.speaker_id)}: {line}"
            previous = segment.speaker_id
        lines.append(line)
    text = "\n".join(line for line in lines if line)
    return text + "\n" if text else ""


def to_json(transcript: Transcript, *, bilingual: bool = False) -> str:
    # The JSON always carries every segment's translation, if there is one.
    return transcript.to_json()


FORMATS: dict[str, Callable[..., str]] = {
    "txt": to_txt,
    "json": to_json,
    "vtt": to_vtt,
    "srt": to_srt,
}


def render(transcript: Transcript, fmt: str, *, bilingual: bool = False) -> str:
    """``fmt`` text of ``transcript``; ``bilingual`` adds each segment's translation."""
    try:
        writer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}") from None
    return writer(transcript, bilingual=bilingual)
