# The production-shaped image used by docker-compose.yml (web, worker and beat share it).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SIYU_VAR_DIR=/app/var
WORKDIR /app
COPY . .
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=ZGVtby1vbmx5LWJ1aWxkLWtleS0zMi1ieXRlcy4uLi4= \
    python manage.py collectstatic --noinput \
 && useradd --create-home siyu && mkdir -p /app/var && chown -R siyu /app/var
USER siyu
EXPOSE 8000
