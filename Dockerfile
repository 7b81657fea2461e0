# patientbot: one bot instance. SQLite in the /data volume by default; set
# PATIENTBOT_DATABASE_URL to a PostgreSQL URL to run several instances (see README, Deployment).
FROM python:3.11.14-slim-bookworm

# uv installs what uv.lock names into /app/.venv: the Makefile's command without --extra dev,
# so runtime only. The venv comes first on PATH: `python` and `patientbot` are the project's.
# The bot may not write its own files, so Python could never cache what it compiles: uv
# compiles the dependencies' bytecode at install (UV_COMPILE_BYTECODE) and the project's code
# is compiled beside it below. Without it every start compiled every module again: 1.9 s to
# the first getUpdates instead of 0.8 s (benchmarks/bench_startup.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_NO_CACHE=1 \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH

# A system user that owns nothing but the data volume.
RUN useradd --system --no-log-init --user-group --uid 10001 --home-dir /app \
        --shell /usr/sbin/nologin patientbot \
    && install -d -o patientbot -g patientbot -m 0750 /data

WORKDIR /app

# Dependencies in a layer of their own, before the code: rebuilt only when pyproject.toml or
# uv.lock change, not on every code change. --locked refuses a lock that pyproject.toml has
# moved away from; the versions and hashes are the lock's, the same ones `make test` ran.
COPY pyproject.toml uv.lock ./
RUN pip install --no-cache-dir uv==0.13.8 \
    && uv sync --locked --no-install-project

# matplotlib (the charts) keeps its font list in MPLCONFIGDIR; the bot's home is not its to
# write, so the list is built here once, where the bot may read and refresh it.
ENV MPLCONFIGDIR=/tmp/matplotlib
RUN python -c "import matplotlib.font_manager" && chmod -R a+rwX /tmp/matplotlib

# The code, then the `patientbot` command. Editable, so the command finds migrations/ beside
# the code; root owns it all, so the bot cannot change its own code.
COPY README.md alembic.ini config.toml ./
COPY bot ./bot
COPY storage ./storage
# The playground (`run` without a token) drives the bot through the fake Bot API.
COPY fakebotapi ./fakebotapi
COPY migrations ./migrations
COPY seed_data ./seed_data
COPY deploy/entrypoint.sh ./deploy/entrypoint.sh
# The translations: .mo files are built here from the .po catalogs, never committed. Then the
# code's bytecode (see UV_COMPILE_BYTECODE above).
RUN uv sync --locked \
    && pybabel compile -d bot/locale -D patientbot --statistics \
    && python -m compileall -q bot storage migrations fakebotapi

# Inside the container the bot listens on every interface (the port mapping decides who can
# reach it); the SQLite file lives in the volume.
ENV PATIENTBOT_DATABASE_URL=sqlite:////data/patientbot.db \
    PATIENTBOT_HEALTH_LISTEN=0.0.0.0 \
    TELEGRAM_WEBHOOK_LISTEN=0.0.0.0
VOLUME ["/data"]
# 8081: GET /healthz. 8443: the webhook, in webhook mode only.
EXPOSE 8081 8443

# The patientbot user made above, by number so a cluster can check it is not root.
USER 10001:10001
STOPSIGNAL SIGTERM
# No curl in a slim image: Python's urllib fails (exit 1) on a 503 or a refused connection.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8081/healthz', timeout=4)"]

# Migrate, then exec the bot so SIGTERM from `docker stop` reaches it.
CMD ["/app/deploy/entrypoint.sh"]
