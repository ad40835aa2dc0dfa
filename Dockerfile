# One image for every Fixative process: `fixative serve | worker | beat | init | demo-data | ...`
# (the entrypoint is `fixative`; the command picks the process). deploy/compose.yaml runs it with
# PostgreSQL and Redis; deploy/README.md says how.
#
#   docker build -t fixative:latest .
#
# The Python environment is installed from the committed uv.lock (the same uv as the Makefile),
# without the dev group, the project itself as a wheel (not editable), into a virtual environment
# that is copied alone into the final stage: no uv, pip or build tools ship.

FROM debian:bookworm-slim AS build
# Downloads trust the system's certificate store: Debian's ca-certificates, plus any CA a site
# adds to its base image's /usr/local/share/ca-certificates (a TLS-inspecting proxy's).
ENV DEBIAN_FRONTEND=noninteractive \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 python3-venv \
    && rm -rf /var/lib/apt/lists/*
ARG UV_VERSION=0.13.9
RUN python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --quiet --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"
# Debian's python3 (3.11) only; uv never downloads one. Bytecode is compiled here because the
# image runs as a user who cannot write into the environment.
ENV UV_PYTHON=/usr/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/opt/fixative \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1
WORKDIR /src
# The dependencies first, in their own layer: a change to the code alone does not reinstall them.
COPY pyproject.toml uv.lock ./
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-install-project
COPY README.md ./
COPY src ./src
# numpy's and pyarrow's own test suites, C headers and Cython sources are not run here (~35 MB)
RUN /opt/uv/bin/uv sync --frozen --no-dev --no-editable \
    && cd /opt/fixative/lib/python3.11/site-packages \
    && find numpy pyarrow -depth -type d -name tests -exec rm -rf {} + \
    && rm -rf pyarrow/include pyarrow/src \
    && find pyarrow -name "*.pyx" -o -name "*.pxd" -o -name "*.pxi" | xargs rm -f \
    && /opt/fixative/bin/fixative --help >/dev/null \
    && /opt/fixative/bin/python -c "import pyarrow.compute, pyarrow.csv, pyarrow.ipc, pyarrow.parquet, numpy, tensorstore, adbc_driver_postgresql.dbapi"

FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 fixative \
    && useradd --system --uid 10001 --gid fixative --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin fixative \
    && mkdir /data \
    && chown fixative:fixative /data
COPY --from=build /opt/fixative /opt/fixative
# FIXATIVE_HOME holds the settings file (fixative.toml), the demo's volumes and SQLite files;
# compose mounts one volume there for the API, the workers and beat.
ENV PATH=/opt/fixative/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    FIXATIVE_HOME=/data \
    FIXATIVE_PORT=5000
WORKDIR /data
VOLUME /data
USER fixative:fixative
EXPOSE 5000
# For `fixative serve --port $FIXATIVE_PORT`; other processes turn it off (deploy/compose.yaml).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health/live' % os.environ.get('FIXATIVE_PORT', '5000'), timeout=4)"]
ENTRYPOINT ["fixative"]
CMD ["--help"]
