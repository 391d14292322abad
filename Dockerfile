# The production-shaped image used by docker-compose.yml (web, worker and beat share it).
# Stage 1 builds the dashboard; the Python image only carries its built files.
FROM node:20-slim AS dashboard
WORKDIR /frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 SIYU_VAR_DIR=/app/var
WORKDIR /app
COPY . .
COPY --from=dashboard /frontend/dist /app/frontend/dist
RUN pip install --no-cache-dir . \
 && SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=ZGVtby1vbmx5LWJ1aWxkLWtleS0zMi1ieXRlcy4uLi4= \
    python manage.py collectstatic --noinput \
 && useradd --create-home siyu && mkdir -p /app/var && chown -R siyu /app/var
USER siyu
EXPOSE 8000
