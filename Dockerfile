# The CronJob image: slim Python, runtime dependencies only, non-root, read-only root filesystem friendly.
FROM python:3.11-slim AS build
WORKDIR /src
COPY requirements.txt pyproject.toml README.md ./
COPY acr_refresh ./acr_refresh
RUN pip install --no-cache-dir --prefix=/install -r requirements.txt \
 && pip install --no-cache-dir --prefix=/install --no-deps .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
RUN useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin acr-refresh
USER 10001:10001
ENTRYPOINT ["acr-refresh"]
CMD ["run", "--config", "/config", "--log-format", "json"]
