"""Background inference that yields the CPU to live captions."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from typing import TypeVar

__all__ = ["BACKGROUND_NICENESS", "at_low_priority"]

T = TypeVar("T")

#: Added to the nice value of background model threads (translation, whole-file API
#: transcription): live captions keep the CPU when it is short.
BACKGROUND_NICENESS = 10


def at_low_priority(build: Callable[[], T]) -> T:
    """Run ``build`` on a new thread whose nice value is raised by :data:`BACKGROUND_NICENESS`.

    CTranslate2 starts its worker threads when a model is loaded, and on Linux a thread
    inherits its creator's nice value: so a model built here computes on threads that yield
    the CPU to the caption decodes (SPEC §7, "translation never delays captions") without
    touching their priority. Where threads have no nice value of their own, ``build`` runs
    as is.
    """
    result: list[T] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            if sys.platform.startswith("linux"):
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICENESS)
            result.append(build())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=run, name="lx-background-load")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
