"""What a turn says: keywords, questions, requests and commitments, risk tags (rules only).

Keywords are TF-IDF over the session: a word that the turn uses often and earlier turns
rarely. Fast, deterministic, nothing to download, and it adapts to the conversation (a word
every turn repeats stops being a keyword). Actions and risk tags are phrase rules; the risk
lexicon is configurable.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = ["DEFAULT_RISK_LEXICON", "Action", "KeywordIndex", "find_actions", "find_risks"]

DEFAULT_RISK_LEXICON: dict[str, tuple[str, ...]] = {
    "escalation": (
        "escalate",
        "escalation",
        "speak to a manager",
        "speak to your manager",
        "talk to a supervisor",
        "unacceptable",
        "urgent",
        "as soon as possible",
    ),
    "cancellation": (
        "cancel",
        "cancellation",
        "terminate",
        "close my account",
        "unsubscribe",
        "refund",
        "switch to another",
    ),
    "legal": (
        "lawyer",
        "attorney",
        "legal action",
        "lawsuit",
        "sue",
        "court",
        "breach of contract",
        "liability",
        "compliance",
    ),
    "complaint": (
        "complaint",
        "complain",
        "not happy",
        "disappointed",
        "frustrated",
        "terrible",
        "doesn't work",
        "does not work",
        "broken",
        "waste of",
    ),
}

#: (pattern name, kind, regex). A request asks someone else; a commitment binds the speaker.
_ACTION_RULES: tuple[tuple[str, str, re.Pattern[str]], ...] = tuple(
    (name, kind, re.compile(rx, re.IGNORECASE))
    for name, kind, rx in (
        ("please", "request", r"\bplease\b"),
        ("can_you", "request", r"\b(?:can|could|would|will) you\b"),
        ("need_you", "request", r"\b(?:i|we) need you to\b"),
        ("make_sure", "request", r"\bmake sure\b"),
        ("lets", "proposal", r"\blet'?s\b"),
        ("we_need", "proposal", r"\bwe (?:need|have|ought) to\b|\bwe should\b"),
        ("i_will", "commitment", r"\bi'?ll\b|\bi will\b|\bi'm going to\b|\bi am going to\b"),
        ("we_will", "commitment", r"\bwe'?ll\b|\bwe will\b|\bwe're going to\b"),
        ("follow_up", "commitment", r"\bfollow(?:ing)? up\b|\bget back to you\b"),
    )
)

_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]|\d+(?:[.,]\d+)?")
_QUESTION_START = re.compile(
    r"^(?:who|what|when|where|why|how|which|do|does|did|is|are|was|were|can|could|will|"
    r"would|should|shall|have|has)\b",
    re.IGNORECASE,
)
_ASKS_SOMEONE = re.compile(r"^(?:can|could|would|will) you\b", re.IGNORECASE)
_STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can can't cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further get got had hadn't has hasn't
    have haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's i i'd i'll i'm i've if in into is isn't it it's its itself just let's like me more
    most mustn't my myself no nor not now of off on once only or other ought our ours
    ourselves out over own really right same say said shan't she she'd she'll she's should
    shouldn't so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've this those through to too under until
    up us very was wasn't we we'd we'll we're we've well were weren't what what's when when's
    where where's which while who who's whom why why's will with won't would wouldn't yeah
    yes you you'd you'll you're you've your yours yourself yourselves okay ok oh um uh also
    going go know think want one two three thing things lot much many way yes sure""".split()
)


@dataclass(frozen=True, slots=True)
class Action:
    text: str
    kind: str
    pattern: str

    def as_dict(self) -> dict[str, str]:
        return {"text": self.text, "kind": self.kind, "pattern": self.pattern}


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def count_questions(text: str) -> int:
    count = 0
    for sentence in sentences(text):
        if sentence.endswith("?") or (
            not sentence.endswith((".", "!")) and _QUESTION_START.match(sentence)
        ):
            count += 1
    return count


def find_actions(text: str) -> list[Action]:
    """Each sentence that asks for, proposes or promises something, with the rule that
    found it (the first rule that matches, in the order above)."""
    found = []
    for sentence in sentences(text):
        asks = sentence.endswith("?") and _QUESTION_START.match(sentence)
        if asks and not _ASKS_SOMEONE.match(sentence):
            continue  # "do we need to…?" asks; "could you…?" and "I'll…, ok?" still count
        for name, kind, rule in _ACTION_RULES:
            if rule.search(sentence):
                found.append(Action(sentence, kind, name))
                break
    return found


def find_risks(text: str, lexicon: Mapping[str, Sequence[str]]) -> list[str]:
    lowered = f" {text.lower()} "
    tags = []
    for tag, phrases in lexicon.items():
        if any(re.search(rf"\b{re.escape(p.lower())}\b", lowered) for p in phrases):
            tags.append(tag)
    return tags


class KeywordIndex:
    """Document frequencies of the session's turns so far."""

    def __init__(self) -> None:
        self._df: Counter[str] = Counter()
        self._docs = 0

    @staticmethod
    def terms(text: str) -> list[str]:
        return [t for t in _WORD.findall(text.lower()) if t not in _STOPWORDS and len(t) > 2]

    def add(self, text: str, top: int = 5) -> list[str]:
        """The turn's keywords (best first), then count it in the index."""
        terms = self.terms(text)
        counts = Counter(terms)
        self._docs += 1
        self._df.update(counts.keys())
        first_seen = {t: i for i, t in reversed(list(enumerate(terms)))}
        scored = sorted(
            counts,
            key=lambda t: (
                -counts[t] * math.log((1 + self._docs) / self._df[t]) - 0.01 * len(t),
                first_seen[t],
            ),
        )
        return scored[:top]
