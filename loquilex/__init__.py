"""LoquiLex: local-first live captioning and translation on faster-whisper."""

__version__ = "0.1.0"

__all__ = ["__version__"]
