# One image for all five services; the compose file picks the module to run.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir "uv>=0.8,<0.14"
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
COPY tools ./tools
RUN uv sync --locked --no-dev --package chuishao-intake \
 && uv sync --locked --no-dev --inexact --package chuishao-router \
 && uv sync --locked --no-dev --inexact --package chuishao-sla \
 && uv sync --locked --no-dev --inexact --package chuishao-notify \
 && uv sync --locked --no-dev --inexact --package chuishao-supervision

FROM python:3.11-slim
RUN useradd --system --uid 10001 chuishao
WORKDIR /app
COPY --from=build /app /app
ENV PATH="/app/.venv/bin:$PATH" PYTHONUNBUFFERED=1 CHUISHAO_LOG_FORMAT=json
USER chuishao
CMD ["python", "-m", "chuishao.intake"]
