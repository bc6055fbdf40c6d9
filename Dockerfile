# Prophex-sim API server. Build: docker build -t prophex-sim .
# Run (SQLite in a volume):  docker run -p 8000:8000 -v prophex-data:/data prophex-sim
# PostgreSQL: see docker-compose.yml (PROPHEX_DATABASE_URL=postgresql+psycopg://...).
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PROPHEX_DATABASE_URL=sqlite:////data/prophex.db

WORKDIR /app

# Dependencies first, so code edits do not reinstall them.
COPY pyproject.toml README.md ./
RUN mkdir -p prophex && touch prophex/__init__.py \
    && pip install ".[postgres]" \
    && pip uninstall -y prophex-sim \
    && rm -rf prophex

# The migrations ship inside the package (prophex/migrations/, package data); the source tree
# is installed in place (editable) and alembic.ini is kept for running `alembic` by hand.
COPY alembic.ini ./
COPY prophex ./prophex
RUN pip install --no-deps -e . \
    && useradd --create-home --uid 10001 prophex \
    && mkdir -p /data && chown prophex:prophex /data

USER prophex
EXPOSE 8000
VOLUME ["/data"]

HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/v1/health', timeout=2).status == 200 else 1)"

# Migrations are applied at start-up (the lifespan opens the sequencer, which upgrades the
# schema before taking the single-writer lock). One process: the sequencer is the only writer.
CMD ["python", "-m", "uvicorn", "prophex.api.app:app_from_env", "--factory", \
     "--host", "0.0.0.0", "--port", "8000", "--no-access-log", "--timeout-keep-alive", "30", \
     "--timeout-graceful-shutdown", "10"]
