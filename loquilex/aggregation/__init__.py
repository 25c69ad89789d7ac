"""From recognised utterances to protocol events: segment ids, ordering, dedupe, snapshot."""

from loquilex.aggregation._aggregator import PartialFinalAggregator

__all__ = ["PartialFinalAggregator"]
