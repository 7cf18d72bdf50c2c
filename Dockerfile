# runners-bot: the GitHub App webhook server. Build: docker build -t runners-bot .
# Reproducible: the base image is pinned by digest (the multi-architecture index of the
# tag) and every Python package comes from requirements.lock with its hashes; Renovate
# (renovate.json) proposes updates of both.
# Stage 1: the locked dependencies, then the app itself (no dependency resolution).
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/runners-bot
COPY requirements.lock ./
RUN /opt/runners-bot/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md app.yml arc-app.yml ./
COPY bot ./bot
COPY templates ./templates
# Only the app: its dependencies are all in the venv already, hash-checked.
RUN /opt/runners-bot/bin/pip install --no-deps .

# Stage 2: only the virtualenv, as a non-root user with a read-only-friendly layout.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d
ENV PATH=/opt/runners-bot/bin:$PATH PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    RUNNERS_BOT_STATE=/var/lib/runners-bot/state.sqlite3 PORT=3000
RUN groupadd --system --gid 10001 runners-bot \
    && useradd --system --uid 10001 --gid runners-bot --home-dir /var/lib/runners-bot --shell /usr/sbin/nologin runners-bot \
    && mkdir -p /var/lib/runners-bot && chown runners-bot:runners-bot /var/lib/runners-bot
COPY --from=build /opt/runners-bot /opt/runners-bot
USER 10001:10001
WORKDIR /var/lib/runners-bot
EXPOSE 3000
ENTRYPOINT ["runners-bot"]
CMD ["serve"]
