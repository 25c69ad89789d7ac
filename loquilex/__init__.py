"""LoquiLex: local-first live captioning and translation on faster-whisper."""

import os

# numpy's OpenBLAS starts one thread per core that busy-waits after every matrix product
# (the mel filterbank of each decode is one). Between short streaming decodes that spinning
# cost more CPU than the decodes themselves (0.32 → 0.19 CPU-s per audio second measured).
# Parallelism here is per stream and per model replica, so one BLAS thread is right. Set
# before numpy is first imported; a value the user already set wins.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"

__all__ = ["__version__"]
