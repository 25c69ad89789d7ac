"""Hypothesis hygiene and LocalAgreement stabilisation, as pure functions.

A word becomes stable when two consecutive decodes agree on it (LocalAgreement-2, as in
whisper_streaming); stable words are then forced as the decoder prefix, so they can never
change. Before agreement, each hypothesis is cleaned of the usual Whisper failure modes.
"""

from __future__ import annotations

import difflib
import re
import zlib
from collections.abc import Sequence

from loquilex._normalize import normalize_text
from loquilex.asr._engine import Hypothesis, HypWord
from loquilex.types import Word

__all__ = [
    "agree",
    "clean_tail",
    "context_needed",
    "drop_echoes",
    "drop_overlap",
    "drop_restart",
    "drop_squeezed",
    "ends_final",
    "ends_sentence",
    "is_hallucination",
    "norm_word",
    "says_again",
    "sentence_breaks",
    "skipped",
    "split_sentences",
    "truncate_loops",
]

_NORM = re.compile(r"[^\w']+")
_SENTENCE_END = re.compile(r"[.!?。！？][\"'”)\]]*$")
_ELLIPSIS = re.compile(r"(\.\.|…)[\"'”)\]]*$")


def norm_word(text: str) -> str:
    return _NORM.sub("", text.lower())


#: Words whose full stop abbreviates what comes next: a title before a name, "www." before
#: the rest of an address ("visit www." then "asterisk.org" in a decode cut short).
_LEADING_ABBREVIATIONS = frozenset(
    ["mr.", "mrs.", "ms.", "dr.", "prof.", "st.", "vs.", "e.g.", "i.e.", "www."]
)


#: One letter and a full stop: an initial ("John F. Kennedy") or an abbreviation spelled
#: as separate letters ("black letter, I. E. the letter which …" on lj-read).
_INITIAL = re.compile(r"^[A-Za-z]\.$")


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with a full stop, question or exclamation mark. An ellipsis
    is Whisper's mark for speech that trails off or was cut by the window, not an end, and
    neither is the full stop of a title or an address's "www." (what follows belongs to it)
    or of a single letter (an initial). A sentence that really ends on one ("… plan B.")
    is final at the pause after it instead."""
    text = text.strip()
    bare = text.lower().lstrip("\"'“(")
    if bare in _LEADING_ABBREVIATIONS or _INITIAL.match(bare):
        return False
    return bool(_SENTENCE_END.search(text)) and not _ELLIPSIS.search(text)


def compression_ratio(text: str) -> float:
    """How well ``text`` compresses: Whisper's measure of a repetitive, looping output."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data)) if data else 1.0


def is_hallucination(
    hyp: Hypothesis,
    *,
    no_speech_threshold: float = 0.6,
    logprob_threshold: float = -1.0,
    compression_threshold: float = 2.4,
    unvoiced_no_speech_threshold: float | None = None,
    unvoiced_logprob_threshold: float | None = None,
    unvoiced_loop_words: int | None = None,
) -> bool:
    """Whisper's own rejection rules: silence-like and low-confidence, or too repetitive.

    Repetition is judged after :func:`truncate_loops`: a decode that says the sentence and
    then loops on it ("… the air is pure. At that high level the air is pure. At that …")
    keeps its first, real part instead of losing the whole phrase.

    ``unvoiced_no_speech_threshold`` is for audio no voice model heard as speech: there a
    no-speech probability above it rejects the decode on its own. A held organ chord came
    out as "The end of the end of" at no-speech 0.84 and log-probability -0.93, which the
    joint rule lets through; whispered speech decodes at 0.6 and under.
    ``unvoiced_logprob_threshold`` is the same for log-probability: a breath between
    sentences (no-speech 0.34-0.44) came out as "Thank you." at -0.84 and "Bye bye." at
    -0.80 with the final beam, and as longer made-up text under -0.9 with the partial one;
    whispered sentences decode at -0.19 to -0.73.
    ``unvoiced_loop_words``, also for such audio: a decode that is one word said that many
    times or more is rejected. A breath after a sentence came out as "No." and six more
    copies of it (no-speech 0.57, log-probability -0.61 with the final beam: a loop is
    sure of itself), too short a text for the compression ratio to show the loop.
    """
    if hyp.no_speech_prob > no_speech_threshold and hyp.avg_logprob < logprob_threshold:
        return True
    if unvoiced_no_speech_threshold is not None and hyp.no_speech_prob > (
        unvoiced_no_speech_threshold
    ):
        return True
    if unvoiced_logprob_threshold is not None and hyp.avg_logprob < unvoiced_logprob_threshold:
        return True
    if unvoiced_loop_words is not None:
        said = [norm_word(w.text) for w in hyp.words[hyp.prefix_len :]]
        if len(said) >= unvoiced_loop_words and len(set(said)) == 1:
            return True
    if hyp.compression_ratio <= compression_threshold:
        return False
    kept = truncate_loops(hyp.words[hyp.prefix_len :])
    return not kept or compression_ratio(" ".join(w.text for w in kept)) > compression_threshold


def truncate_loops(words: Sequence[HypWord], n: int = 3, *, start: int = 0) -> list[HypWord]:
    """Cut where the text starts to say again what it said just before: Whisper's
    repetition loops ("Right, we have 42. Right, we have 42. Right, …", "Sunday. Sunday.
    Sunday. Sunday.") repeat a stretch back to back. The repeat must begin right where the
    stretch it repeats ends and match it for as far as it goes, at least ``n`` words: a
    phrase said twice with other words between ("on the side of the lower case than the
    capital letters, the lower case being …") is speech, not a loop, and so is a stretch
    said once more and followed by new words (:func:`_said_again`). Only cuts at or after
    ``start`` (words before it are already settled)."""
    keys = [norm_word(w.text) for w in words]
    seen: dict[tuple[str, ...], list[int]] = {}
    for j in range(len(keys) - n + 1):
        gram = tuple(keys[j : j + n])
        if j >= start:
            for k in seen.get(gram, ()):
                span = min(len(keys) - j, max(j - k, n))
                if keys[j : j + span] == keys[k : k + span] and not _said_again(keys, k, j):
                    return list(words[:j])
        seen.setdefault(gram, []).append(j)
    return list(words)


def _said_again(keys: Sequence[str], k: int, j: int) -> bool:
    """Whether the repeat at ``j`` of the stretch at ``k`` is a speaker saying it again: it
    runs once, then new words follow ("… the person you're calling. The person you're
    calling is not at their desk."). A loop goes on repeating to the end of the decode."""
    period, m = j - k, j
    while m < len(keys) and keys[m] == keys[m - period]:
        m += 1
    return m - j < 2 * period and len(keys) - m >= 2


def clean_tail(
    words: Sequence[HypWord], audio_end: float, context: Sequence[HypWord] = ()
) -> list[HypWord]:
    """Drop text the audio has no room for (:func:`drop_squeezed`), instant copies of the
    word before (:func:`drop_echoes`), loop repeats (also of the forced ``context`` words
    before them), a zero-length last word against the end of the audio (alignment puts
    words Whisper invented past the speech there) and a loop's first words at the end
    (:func:`drop_restart`)."""
    kept = drop_echoes(drop_squeezed(words), context[-1:])
    out = truncate_loops([*context, *kept], start=len(context))[len(context) :]
    while out and out[-1].t1 - out[-1].t0 < 0.04 and out[-1].t0 >= audio_end - 0.1:
        out.pop()
    return drop_restart([*context, *out], start=len(context))[len(context) :]


def drop_restart(words: Sequence[HypWord], *, start: int = 0) -> list[HypWord]:
    """Drop the last word or two when they start the sentence just ended over again, each
    in under 0.1 s: the first words of a loop that ran out of audio, which
    :func:`truncate_loops` cannot see in fewer than three words. On jfk the final beam
    wrote "Ask what you can do for your country." and then "Ask" in 60 ms of the crowd
    noise after it, and that "Ask" was captioned as a sentence of its own. A speaker who
    starts a sentence the same way again takes time for the words. Only words at or after
    ``start`` go."""
    for m in (2, 1):
        j = len(words) - m
        if j < max(start, 1) or not ends_sentence(words[j - 1].text):
            continue
        tail = words[j:]
        if any(w.t1 - w.t0 >= _SHORT_WORD for w in tail):
            continue
        i = j - 1  # the first word of the sentence that ends before the tail
        while i > 0 and not ends_sentence(words[i - 1].text):
            i -= 1
        if j - i > m and [norm_word(w.text) for w in words[i : i + m]] == [
            norm_word(w.text) for w in tail
        ]:
            return list(words[:j])
    return list(words)


#: Shorter than any word really spoken: 0.1 s.
_SHORT_WORD = 0.1


def drop_squeezed(words: Sequence[HypWord]) -> list[HypWord]:
    """Drop runs of two or more words that alignment gives no duration at all: text the
    decoder said twice, once where the audio has no room for it. Seen with the final beam:
    "I did. I did." with the second pair at one instant where the speaker paused, and a
    whole sentence said twice with the first copy squeezed into 40 ms. A word left just
    before a dropped run that the run's next word repeats ("about" | … | "about") goes too.
    """
    out: list[HypWord] = []
    i = 0
    while i < len(words):
        j = i
        while j < len(words) and words[j].t1 - words[j].t0 < _NO_TIME:
            j += 1
        if j - i >= 2:
            if out and j < len(words) and norm_word(out[-1].text) == norm_word(words[j].text):
                out.pop()
            i = j
            continue
        out.extend(words[i : max(j, i + 1)])
        i = max(j, i + 1)
    return out


#: Shorter than one alignment step (20 ms): a word given no audio at all.
_NO_TIME = 0.005
#: At most one alignment step: a word given no audio of its own.
_ONE_STEP = 0.025


def drop_echoes(words: Sequence[HypWord], before: Sequence[HypWord] = ()) -> list[HypWord]:
    """Drop a word that says the word before it again in at most one alignment step: a
    loop on one word ("Perfect.@44.56-45.12 Perfect.@45.12-45.12 Perfect.@45.12-45.14"),
    whose copies :func:`truncate_loops` finds too short to be a loop and
    :func:`drop_squeezed` leaves when they are not back to back. A word said twice by a
    speaker ("no, no") takes time both times. ``before``: the forced word before them."""
    out: list[HypWord] = []
    last = before[-1] if before else None
    for word in words:
        if last is not None and word.t1 - word.t0 <= _ONE_STEP:
            if norm_word(word.text) and norm_word(word.text) == norm_word(last.text):
                continue
        out.append(word)
        last = word
    return out


def drop_overlap(committed: Sequence[Word], words: Sequence[Word], max_n: int = 4) -> list[Word]:
    """A window that starts right after the stable words may hear the last of them again;
    drop the longest head of ``words`` (up to ``max_n`` words) that repeats the stable tail
    and starts before the last stable word has ended. Numbers are compared spelled out:
    "about three hundred and" repeats a stable "about 300 and"."""
    if not committed or not words or words[0].t0 > committed[-1].t1 + 0.3:
        return list(words)
    tail = _spelled(committed[-2 * max_n :])
    for n in range(min(max_n, len(words)), 0, -1):
        head = _spelled(words[:n])
        if head and tail[-len(head) :] == head:
            return list(words[n:])
    return list(words)


def agree(previous: Sequence[Word], current: Sequence[Word], *, keep_last: bool) -> int:
    """How many leading words of ``current`` the ``previous`` hypothesis confirms.

    With ``keep_last`` the newest word is never confirmed: it may be cut off by the window.
    """
    n = 0
    for a, b in zip(previous, current, strict=False):
        if norm_word(a.w) != norm_word(b.w) or not norm_word(b.w):
            break
        n += 1
    if keep_last:
        n = min(n, max(len(current) - 1, 0))
    return n


def skipped(agreed: Sequence[Word], current: Sequence[Word]) -> bool:
    """Whether ``current`` skipped words that the two decodes before it agreed on.

    Whisper drops quiet speech when louder speech follows it in the window (a quiet phrase,
    then a loud voice), and a short word at the window's start ("Great," before "let's do
    that"). That shows as a decode that starts at a later agreed word, or whose first words
    read nothing like the agreed ones ("in the early middle" → "the… Sunday is the"). A
    decode that rewrites them ("a certificate" → "as certificates", "I did" → "They did")
    reads alike and is a revision, not a skip. An empty decode (rejected as no speech) is
    not judged: the gates may be right. Numbers are compared spelled out: "from about 300"
    and "about three hundred" are the same words, with "from" dropped.
    """
    held = _spelled(agreed)
    new = _spelled(current)
    if len(held) < 2 or not new or new[0] == held[0]:
        return False
    for k in range(1, len(held) - 1):
        if new[:2] == held[k : k + 2]:
            return True  # the head was skipped: it starts at an agreed word further on
    alike = difflib.SequenceMatcher(None, " ".join(held), " ".join(new[: len(held)]))
    return alike.ratio() < 0.5


def says_again(held: Sequence[Word], after: Sequence[Word]) -> bool:
    """Whether ``after``, decoded with ``held`` forced before it, starts by saying some of
    ``held`` over again ("from about 300 and" forced, then "about three hundred and eight
    hundred ninety"): the decoder did not take the forced words for the audio they cover,
    and keeping both would caption that stretch twice."""
    said, new = _spelled(held), _spelled(after)
    return len(new) >= 2 and any(said[i : i + 2] == new[:2] for i in range(len(said) - 1))


def _spelled(words: Sequence[Word]) -> list[str]:
    return normalize_text(" ".join(w.w for w in words))


_CLAUSE_END = re.compile(r"[,;:][\"'”)\]]*$")


def ends_final(words: Sequence[Word], i: int, clause_min_words: int = 0) -> bool:
    """Whether a final may end after ``words[i]``: at a sentence end, or, with
    ``clause_min_words``, at a comma once the final would hold that many words. Whisper
    writes a comma where run-together sentences meet ("… on Thursday, the integration …")
    until it has heard seconds more; a long final ends at the comma instead of waiting."""
    if ends_sentence(words[i].w):
        return True
    if not clause_min_words or i + 1 < clause_min_words or i + 1 >= len(words):
        return False
    return bool(_CLAUSE_END.search(words[i].w.strip()))


def sentence_breaks(
    words: Sequence[Word],
    *,
    first: int,
    audio_end: float,
    right_context_s: float,
    clause_min_words: int = 0,
    clause_context_s: float = 0.0,
) -> list[int]:
    """Indices, in order, of the words at or after ``first`` that may end a final
    (:func:`ends_final`) and are followed by another word, at least ``right_context_s``
    before ``audio_end``: sentence ends that the decoder saw the next sentence begin
    after, not ones it guessed at the window edge. A comma needs ``clause_context_s``:
    cut off after 0.3 s, a misheard start ("But when there is ice today," for "The weather
    is nice today,") was final before a longer decode could correct it."""
    found: list[int] = []
    for i in range(max(first, 0), len(words) - 1):
        if words[i].t1 > audio_end - right_context_s:
            break
        if ends_final(words, i, clause_min_words):
            needed = context_needed(words[i], right_context_s, clause_context_s)
            if words[i].t1 <= audio_end - needed:
                found.append(i)
    return found


def context_needed(word: Word, right_context_s: float, clause_context_s: float) -> float:
    """Audio a final ending at ``word`` needs after it: ``right_context_s`` after a
    sentence end, at least ``clause_context_s`` after a comma (see :func:`sentence_breaks`)."""
    if ends_sentence(word.w):
        return right_context_s
    return max(right_context_s, clause_context_s)


def split_sentences(words: Sequence[Word]) -> list[list[Word]]:
    """Cut after every word that ends a sentence; the last piece may be unfinished."""
    pieces: list[list[Word]] = [[]]
    for word in words:
        pieces[-1].append(word)
        if ends_sentence(word.w):
            pieces.append([])
    return [p for p in pieces if p]
