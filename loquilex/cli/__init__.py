"""The ``loquilex`` command line."""

from loquilex.cli.main import main

__all__ = ["main"]
