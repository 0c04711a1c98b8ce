# One image per service: `docker build --build-arg SERVICE=router .` (docker-compose.yml
# passes it for each). Only that service's package and its own dependencies are installed,
# so a service cannot lean on a neighbour's (scripts/check_service_deps.sh checks the same
# without a Docker engine).
ARG SERVICE=intake

FROM python:3.11-slim AS build
ARG SERVICE
RUN pip install --no-cache-dir "uv>=0.8,<0.14"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY tools ./tools
RUN uv sync --locked --no-dev --no-editable --package chuishao-${SERVICE}

FROM python:3.11-slim
ARG SERVICE
RUN useradd --system --uid 10001 chuishao
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 CHUISHAO_LOG_FORMAT=json \
    CHUISHAO_SERVICE=${SERVICE}
USER chuishao
CMD ["sh", "-c", "exec python -m chuishao.${CHUISHAO_SERVICE}"]
