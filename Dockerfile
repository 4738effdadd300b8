# Forge console image: one image for every role of docker-compose.yml.
#   default command   gunicorn (the web console) on 0.0.0.0:8000
#   worker / beat     python -m celery -A workers worker|beat ...
#   gpu-agent         python -m gpu_agent --console URL --name NODE ...
#
# torch comes from pip's default index unless TORCH_INDEX_URL names another one
# (a CPU-only build for control-plane hosts, or a given CUDA build):
#   docker build -t forge-console:local .
#   docker build --build-arg TORCH_INDEX_URL=<your torch wheel index> -t forge-console:cpu .
# Keep the torch and deepspeed pins equal to the Makefile's TORCH_VERSION and
# DEEPSPEED_VERSION and to pyproject.toml (tests/test_compose.py checks it).

# ---------------------------------------------------------------- build stage
FROM python:3.11-slim AS build

ARG TORCH_INDEX_URL=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    DS_BUILD_OPS=0

# A compiler for any dependency that ships only as an sdist (deepspeed does);
# it stays in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --upgrade pip setuptools wheel packaging

# Same order as `make install`: torch first (optionally from TORCH_INDEX_URL),
# then deepspeed built against that torch, then Forge.
RUN pip install ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} "torch==2.13.0"
RUN pip install --no-build-isolation "deepspeed==0.19.8"

# Forge's dependencies in their own layer: a code change does not reinstall them.
WORKDIR /src
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY . .
RUN pip install .

# ---------------------------------------------------------------- runtime stage
FROM python:3.11-slim AS runtime

# The code runs from /app (PYTHONPATH), not from site-packages: settings find
# templates/, static/ and var/ next to the packages (BASE_DIR), and a wheel
# carries none of them. `pip install .` above still provides the dependencies
# and the `forge` / `forge-agent` entry points.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DJANGO_SETTINGS_MODULE=console.settings.production \
    FORGE_VAR_DIR=/app/var \
    FORGE_DATA_DIR=/var/lib/forge/data \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 forge \
 && useradd --system --uid 10001 --gid forge --home-dir /home/forge --create-home \
      --shell /usr/sbin/nologin forge

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . /app

# Static files are collected at build time (production settings, manifest
# storage) into var/staticfiles, which stays in the image: never a volume, so a
# new image always serves its own assets. The secret and hosts below exist for
# this command only. The code stays root-owned; the forge user writes only to
# var/ (worker shutdown markers) and to the volume mount points created here,
# which Docker copies (with their owner) into new named volumes.
RUN FORGE_SECRET_KEY=collectstatic-at-build-time-only \
    FORGE_ALLOWED_HOSTS=localhost \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 1 \
 && python -m compileall -q console workers gpu_agent forge_cli \
 && mkdir -p /app/var/run /var/lib/forge/data /var/lib/forge-beat /var/lib/forge-agent \
 && chown forge:forge /app/var /app/var/run \
      /var/lib/forge/data /var/lib/forge-beat /var/lib/forge-agent

USER forge
EXPOSE 8000

# No curl in the slim image: Python probes /healthz (200 when the database and
# the broker answer, 503 otherwise; an HTTP error or refused connection exits 1).
# The probe's Host is 127.0.0.1, so FORGE_ALLOWED_HOSTS must include it
# (docker-compose.yml adds it). The worker, beat and agent services override it.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=5)"]

# Workers from WEB_CONCURRENCY (read by gunicorn itself).
CMD ["gunicorn", "console.wsgi:application", \
     "--bind", "0.0.0.0:8000", \
     "--threads", "4", \
     "--worker-tmp-dir", "/dev/shm", \
     "--access-logfile", "-", \
     "--graceful-timeout", "10", \
     "--timeout", "60"]
