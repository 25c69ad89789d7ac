# The runtime image: `loquilex serve` with the embedded tiny.en model, as a non-root user.
#   docker build -t loquilex .
#   docker run -d -p 127.0.0.1:8000:8000 -v loquilex-data:/data loquilex
# Publishing the port beyond this machine? Set a token first: -e LX_SERVER__AUTH_TOKEN=…
# (docs/deploy.md). It installs what `make install` does, without the test tools.
FROM python:3.11-slim-bookworm

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

# jemalloc: `loquilex serve` restarts itself on it, which keeps a long-running server's
# memory flat (glibc's malloc fragments; loquilex/_memory.py).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libjemalloc2 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/loquilex
COPY pyproject.toml requirements.txt constraints.txt README.md ./
COPY loquilex ./loquilex
RUN pip install -c constraints.txt -r requirements.txt . \
    && pip install --no-deps -c constraints.txt resemblyzer \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home loquilex \
    && mkdir -p /data \
    && chown loquilex:loquilex /data

USER loquilex
# 0.0.0.0 only inside the container: the port is reachable only where `docker run -p`
# publishes it. The Host and Origin checks still apply (LX_SERVER__ALLOWED_HOSTS for a
# reverse proxy's name).
ENV LX_DATA_DIR=/data \
    LX_SERVER__HOST=0.0.0.0 \
    LX_SERVER__PORT=8000
VOLUME ["/data"]
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('LX_SERVER__PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=4).status == 200 else 1)"]

CMD ["loquilex", "serve"]
