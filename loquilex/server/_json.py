"""A JSON response that can always be sent, whatever text a client put into the request."""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse

__all__ = ["SafeJSONResponse"]


class SafeJSONResponse(JSONResponse):
    """UTF-8 JSON like :class:`JSONResponse`, except that text which cannot be UTF-8 (a lone
    surrogate a client sent as ``"\\ud800"``, echoed back in an error) is written as a JSON
    ``\\u`` escape instead of failing the response with a 500."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")
