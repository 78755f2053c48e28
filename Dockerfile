# One image for every process: web (gunicorn), the Celery workers and beat.
# docker-compose.yml reuses it; the GPU worker builds it again with TORCH_SPEC set (which
# also installs the "ml" extra: cleanlab for the label check).
#
#   docker build -t labeler .
#   docker build -t labeler-gpu --build-arg TORCH_SPEC="torch torchvision" .
# The base images: Docker Hub's by default. A host without a registry builds its own
# from Debian's packages and names it here (deploy/local/, `make stack`).
ARG NODE_IMAGE=node:20-slim
ARG PYTHON_IMAGE=python:3.11-slim

# Front-end packages come from npm's lock file; only node_modules travels on, without the
# development packages (the linter, the docs site's search shim).
FROM ${NODE_IMAGE} AS static
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM ${PYTHON_IMAGE}

# Extra pip requirements for the GPU worker, e.g. "torch==2.7.1 torchvision==0.22.1".
# Empty by default: the web image never carries torch (nor the rest of the "ml" extra).
ARG TORCH_SPEC=""
# Optional index for TORCH_SPEC, e.g. https://download.pytorch.org/whl/cu126; the
# default (PyPI) already serves CUDA builds of torch for linux/x86_64.
ARG TORCH_INDEX_URL=""
# Backbones whose ImageNet weights the image carries in /app/pretrained (the workers'
# LABELER_PRETRAINED_DIR), fetched at build where TORCH_SPEC installs torchvision, e.g.
# "resnet18 mobilenet_v3_small"; "all" for every backbone, empty for none.
ARG PRETRAINED=""
# Options for every pip install, e.g. "--no-index --find-links http://host:port/" to
# install from a folder of wheels served on the build host instead of PyPI.
ARG PIP_INSTALL_OPTIONS=""
# A fixed uid so bind-mounted media can be given to the same user on the host.
ARG APP_UID=1000

# Code runs from /app, not site-packages: BASE_DIR must be the checkout, since
# templates/ and static/ live beside the packages (see the install step below).
# TORCH_HOME is torch.hub's download cache; compose mounts the model-weights volume there.
# MALLOC_*: glibc gives blocks of up to 16 MB (a photo, an upload's 1 MB pieces) from its
# heap and keeps up to 64 MB of it free, instead of mapping and unmapping each one: the
# page faults of those fresh maps cost gunicorn 3-4 ms of CPU a photo (bench/photos.py).
ENV PYTHONDONTWRITEBYTECODE=1 \
    MALLOC_MMAP_THRESHOLD_=16777216 \
    MALLOC_TRIM_THRESHOLD_=67108864 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    LABELER_VAR_DIR=/app/var \
    STATIC_ROOT=/app/staticfiles \
    MEDIA_ROOT=/app/media \
    TORCH_HOME=/app/models

RUN groupadd --system --gid "$APP_UID" app \
    && useradd --system --uid "$APP_UID" --gid app --create-home --home-dir /home/app app

WORKDIR /app

# torch first: it is by far the largest layer and changes least often. TORCH_SPEC is
# left unquoted on purpose: it may name several requirements.
RUN if [ -n "$TORCH_SPEC" ]; then \
        pip install $PIP_INSTALL_OPTIONS ${TORCH_INDEX_URL:+--index-url "$TORCH_INDEX_URL"} $TORCH_SPEC; \
    fi

# Dependencies from pyproject.toml alone, so editing the code does not reinstall them.
# With no source copied yet the wheel holds only metadata; the code is imported from
# /app (PYTHONPATH), so there is exactly one copy of it in the image. An image with
# TORCH_SPEC trains, so it takes the "ml" extra too: cleanlab, which ranks the label check
# after a training (torch and torchvision are already there, so pip keeps those builds).
COPY pyproject.toml ./
RUN pip install $PIP_INSTALL_OPTIONS ".[s3${TORCH_SPEC:+,ml}]" && rm -rf build ./*.egg-info

COPY . .
COPY --from=static /app/node_modules ./node_modules

# With weights for photos, a project of photos fine-tunes a pretrained backbone by default.
RUN if [ -n "$PRETRAINED" ]; then \
        DEBUG=1 python -m worker.ml.fetch_pretrained /app/pretrained \
            $([ "$PRETRAINED" = all ] || echo $PRETRAINED); \
    fi

# collectstatic runs with DEBUG off so the manifest storage writes the hashed, compressed
# files and the manifest the web process needs at run time; the dummy key lives only in
# this RUN, not in the image. The writable directories belong to app, and so do the
# named volumes docker-compose mounts on them (a new volume copies its mount point's owner).
RUN DEBUG=0 SECRET_KEY=collectstatic-at-build-time-only python manage.py collectstatic --noinput \
    && mkdir -p "$LABELER_VAR_DIR" "$MEDIA_ROOT" "$TORCH_HOME" /app/cache \
    && chown app:app "$LABELER_VAR_DIR" "$MEDIA_ROOT" "$TORCH_HOME" /app/cache

USER app

EXPOSE 8000

# No HEALTHCHECK here: the workers and beat reuse this image, so each service
# declares its own check in docker-compose.yml.
# exec makes gunicorn PID 1, so it receives docker stop's SIGTERM directly.
CMD ["sh", "-c", "exec gunicorn labeler.wsgi:application --bind 0.0.0.0:8000 --workers \"${GUNICORN_WORKERS:-3}\" --timeout \"${GUNICORN_TIMEOUT:-120}\" --access-logfile -"]
