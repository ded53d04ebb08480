FROM python:3.12-slim
LABEL maintainer="team@example.com" \
      org.opencontainers.image.source="https://example.com/repo"
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential libpq-dev \
 # clean up the lists
 && rm -rf /var/lib/apt/lists/*
WORKDIR /srv
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . /srv/
EXPOSE 8000/tcp
ENTRYPOINT ["gunicorn"]
CMD ["-b", "0.0.0.0:8000", "app:app"]
