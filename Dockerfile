# clusterwatch in a container: the daemon, JSON logs on stderr, config and database in /data.
#
#   docker build -t clusterwatch:local .
#   docker run -d --name clusterwatch --restart unless-stopped --init --stop-timeout 90 \
#       -v /srv/clusterwatch:/data --env-file /etc/clusterwatch/docker.env clusterwatch:local
#
# /data holds clusterwatch.toml (put it there first), the database and attachments; the
# container user is uid 10001, so the host folder must belong to it. Secrets come from the env
# file (docker reads it literally: KEY=value lines, no quotes). docker stop waits only 10 s by
# default: --stop-timeout 90 lets checks in flight finish. One-off commands:
#   docker exec clusterwatch clusterwatch status
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    CLUSTERWATCH_CONFIG=/data/clusterwatch.toml

# antiword reads .doc/.wps attachments (optional); tzdata backs zoneinfo for cron schedules.
RUN apt-get update \
    && apt-get install -y --no-install-recommends antiword tzdata \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY config/ config/
COPY db/ db/
COPY notifier/ notifier/
COPY scraper/ scraper/
RUN pip install --no-cache-dir '.[attachments]'

RUN useradd --system --uid 10001 --user-group --home-dir /data --shell /usr/sbin/nologin clusterwatch \
    && install -d -m 0700 -o clusterwatch -g clusterwatch /data
USER clusterwatch
WORKDIR /data
VOLUME /data

# SIGTERM: no new checks start, checks in flight get up to 60 s to finish.
STOPSIGNAL SIGTERM
# Unhealthy only when status cannot run at all (exit 1: bad config, unreadable database).
# Exit 2 (a source failing past its budget, dead deliveries) is the outside world's problem: a
# restart cannot fix it, and operator alerts and your monitor's `clusterwatch status` report it.
HEALTHCHECK --interval=5m --timeout=30s --start-period=2m --retries=3 \
    CMD clusterwatch status > /dev/null || [ $? -eq 2 ]

# No ENTRYPOINT: the command is a whole command line, so
# `docker run ... clusterwatch:local clusterwatch backup /data/backup.db` works too.
CMD ["clusterwatch", "--log-format", "json", "daemon"]
