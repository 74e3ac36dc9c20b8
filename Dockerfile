# videostudio: one image for the web server and the worker.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    VIDEOSTUDIO_DATA_DIR=/data \
    VIDEOSTUDIO_STATIC_ROOT=/app/staticfiles

WORKDIR /app
# The runtime lock, as make installs it (dev.txt holds the same pins plus the dev tools):
# exact versions, every file checked against its hash, wheels only, nothing resolved.
# It holds every backend the settings can choose, S3 storage (django-storages, boto3)
# included: VIDEOSTUDIO_S3_BUCKET needs no other step.
COPY requirements/app.txt ./requirements/app.txt
RUN pip install --no-cache-dir --require-hashes --no-deps --only-binary=:all: \
        -r requirements/app.txt
# The app runs from this tree, as from a checkout (settings find templates/ and static/
# next to the package); it is not pip-installed.
COPY manage.py ./
COPY videostudio ./videostudio
COPY templates ./templates
COPY static ./static
RUN SECRET_KEY=build-only python manage.py collectstatic --noinput --verbosity 0

RUN useradd --create-home --uid 1000 studio && mkdir -p /data && chown studio /data
USER studio
# Media lives in /data/media: with VIDEOSTUDIO_MEDIA_DELIVERY=x-accel, mount this
# volume read-only into nginx and point its internal location's alias there.
VOLUME ["/data"]
EXPOSE 8000

# The web server's healthcheck: /health/?check=web asks the database and the cache only,
# so a stopped worker never gets the web server restarted. Plain Python (the image has
# no curl), sent under the first of ALLOWED_HOSTS. A worker container replaces it with
# `python manage.py health --worker` (docker-compose.yml does).
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "videostudio.ops.probe"]

# The web server; the worker runs the same image with: python manage.py qcluster
CMD ["sh", "-c", "python manage.py migrate --noinput && exec gunicorn videostudio.wsgi:application --bind 0.0.0.0:8000 --workers 3 --threads 8 --worker-class gthread --timeout 150"]
