# DevMetrics: one image for every process (web, worker); the Procfile names the commands.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DEVMETRICS_ENV=production \
    DEVMETRICS_DATA_DIR=/data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY devmetrics_app ./devmetrics_app
COPY sql ./sql
COPY templates ./templates
COPY app.yml ./
RUN pip install . \
    && useradd --system --create-home --home-dir /home/devmetrics devmetrics \
    && mkdir -p /data && chown devmetrics /data

USER devmetrics
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz').status != 200)"
CMD ["devmetrics", "serve", "--host", "0.0.0.0", "--port", "8000", "--no-worker"]
