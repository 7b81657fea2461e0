# patientbot: one bot instance. SQLite in the /data volume by default; set
# PATIENTBOT_DATABASE_URL to a PostgreSQL URL to run several instances (see README, Deployment).
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A system user that owns nothing but the data volume.
RUN useradd --system --no-log-init --user-group --uid 10001 --home-dir /app \
        --shell /usr/sbin/nologin patientbot \
    && install -d -o patientbot -g patientbot -m 0750 /data

WORKDIR /app

# Dependencies in a layer of their own, before the code: rebuilt only when pyproject.toml
# changes, not on every code change.
COPY pyproject.toml deploy/requirements.py /tmp/build/
RUN python /tmp/build/requirements.py /tmp/build/pyproject.toml > /tmp/build/requirements.txt \
    && pip install --no-cache-dir --requirement /tmp/build/requirements.txt \
    && rm -rf /tmp/build

# matplotlib (the charts) keeps its font list in MPLCONFIGDIR; the bot's home is not its to
# write, so the list is built here once, where the bot may read and refresh it.
ENV MPLCONFIGDIR=/tmp/matplotlib
RUN python -c "import matplotlib.font_manager" && chmod -R a+rwX /tmp/matplotlib

# The code, then the `patientbot` command. Editable, so the command finds migrations/ beside
# the code; root owns it all, so the bot cannot change its own code.
COPY pyproject.toml README.md alembic.ini config.toml ./
COPY bot ./bot
COPY storage ./storage
COPY migrations ./migrations
COPY seed_data ./seed_data
COPY deploy/entrypoint.sh ./deploy/entrypoint.sh
RUN pip install --no-cache-dir --no-deps --editable .

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
