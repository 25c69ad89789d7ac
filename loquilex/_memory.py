"""Give freed heap memory back to the operating system.

glibc keeps memory that was freed in its arenas for reuse, and decodes of changing window
sizes (CTranslate2's buffers, numpy arrays) leave it fragmented: measured, one stream's RSS
settles about 60 MB higher without trimming (docs/PERFORMANCE.md, "Whole-server soak"). The
server calls :func:`release_free_memory` from its housekeeping every minute.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from collections.abc import Callable

__all__ = ["release_free_memory"]

logger = logging.getLogger(__name__)


def _find_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # glibc only; musl has none
    except (OSError, AttributeError):
        logger.debug("malloc_trim is not available; freed memory stays with the allocator")
        return None
    return trim


_MALLOC_TRIM = _find_malloc_trim()


def release_free_memory() -> bool:
    """Return free heap pages to the OS (``malloc_trim(0)``); False where there is no
    such call. Takes a few milliseconds; safe from any thread."""
    if _MALLOC_TRIM is None:
        return False
    _MALLOC_TRIM(0)
    return True
