"""A local HTTP server shaped like the Hugging Face hub, for ``models install`` tests.

It serves one directory as the files of one model repository, the way ``huggingface_hub``
asks for them (``/api/models/REPO[/revision/REV]`` for the file list, ``/REPO/resolve/REV/FILE``
for each file, with the commit and ETag headers). Pointed at with ``HF_ENDPOINT``, the real
download code runs with no network.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class Hub:
    url: str
    requests: list[str] = field(default_factory=list)


@contextmanager
def serve_repo(repo: str, files: Path) -> Iterator[Hub]:
    """Serve every file in ``files`` as repository ``repo`` at one commit."""
    names = sorted(p.name for p in files.iterdir() if p.is_file())
    hub = Hub("")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            return

        def _file(self) -> Path | None:
            path = unquote(urlparse(self.path).path)
            prefix = f"/{repo}/resolve/"
            if not path.startswith(prefix):
                return None
            _revision, _, name = path[len(prefix) :].partition("/")
            return files / name if name in names else None

        def _headers_for(self, target: Path) -> None:
            data = target.read_bytes()
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
            self.send_header("X-Repo-Commit", COMMIT)
            self.send_header("Content-Type", "application/octet-stream")

        def do_HEAD(self) -> None:
            hub.requests.append(f"HEAD {self.path}")
            target = self._file()
            if target is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self._headers_for(target)
            self.end_headers()

        def do_GET(self) -> None:
            hub.requests.append(f"GET {self.path}")
            path = urlparse(self.path).path
            if path in (f"/api/models/{repo}", f"/api/models/{repo}/revision/main"):
                body = json.dumps(
                    {
                        "id": repo,
                        "modelId": repo,
                        "sha": COMMIT,
                        "private": False,
                        "siblings": [{"rfilename": name} for name in names],
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            target = self._file()
            if target is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self._headers_for(target)
            self.end_headers()
            self.wfile.write(target.read_bytes())

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
