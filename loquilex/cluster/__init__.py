"""Cluster mode on Redis Streams: nodes, their registry, sessions viewed from any node.

Off unless ``cluster.redis_url`` (``LX_CLUSTER__REDIS_URL``, ``serve --redis``) is set; the
single server needs no Redis. docs/scaling.md describes the design and its numbers.
"""

from loquilex.cluster._keys import ID_STRIDE, SLOT_SPAN
from loquilex.cluster._node import ClusterNode, NodeInfo
from loquilex.cluster._view import RemoteSession

__all__ = ["ID_STRIDE", "SLOT_SPAN", "ClusterNode", "NodeInfo", "RemoteSession"]
