# Frame Shift: one image for every process (web, monitor, Flower, followers); the command picks the role.

# The charting library comes from the npm registry at its pinned version (scripts/vendor-js.sh).
FROM node:20-bookworm-slim AS vendor
WORKDIR /src
COPY scripts/vendor-js.sh scripts/
RUN FORCE=1 VENDOR_DIR=/vendor bash scripts/vendor-js.sh

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# FFmpeg from Debian (followers run it; the leader uses ffprobe for media info).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg ca-certificates util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
# The lock pins every package with its hashes: pip checks each download against them.
RUN pip install --require-hashes --no-deps -r requirements.txt

# Never run FFmpeg or the web process as root. UID 1000 matches the first user on most hosts,
# so files written to a bind-mounted media folder belong to that user.
RUN groupadd --gid 1000 frameshift \
    && useradd --uid 1000 --gid frameshift --create-home --shell /usr/sbin/nologin frameshift \
    && mkdir -p /data /media \
    && chown frameshift:frameshift /data /media

COPY --chown=frameshift:frameshift . .
COPY --from=vendor --chown=frameshift:frameshift /vendor/ app/static/vendor/

USER frameshift
ENV FRAME_SHIFT_HOME=/media \
    DATA_DIR=/data \
    HOST=0.0.0.0 \
    PORT=5000

EXPOSE 5000 5555
VOLUME ["/data"]
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s CMD ["python", "scripts/healthcheck.py", "web"]
CMD ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
