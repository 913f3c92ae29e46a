# One image for every Obsrv process (api, worker, scheduler, migrate).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# Chromium for websites crawled with render_js (scrapy-playwright drives the system browser).
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium curl \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt constraints.txt ./
RUN pip install --no-cache-dir -r requirements.txt -c constraints.txt
COPY . .
RUN useradd --system --home /app obsrv && chown -R obsrv /app
USER obsrv
ENV OBSRV_HOST=0.0.0.0 OBSRV_PORT=8000
EXPOSE 8000
CMD ["gunicorn", "-c", "api/gunicorn.conf.py", "api:create_app()"]
