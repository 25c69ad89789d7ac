"""From recognised utterances to protocol events: segment ids, ordering, dedupe, snapshot."""

from loquilex.aggregation._aggregator import PartialFinalAggregator, SpeakerChange

__all__ = ["PartialFinalAggregator", "SpeakerChange"]
