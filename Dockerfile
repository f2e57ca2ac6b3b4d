# The CronJob image: slim Python, runtime dependencies only, non-root, read-only root filesystem friendly.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY acr_refresh ./acr_refresh
# pyproject's dependencies, not requirements.txt's: that file also carries the Azure Functions runtime, which
# the job never imports. Bytecode is compiled here because the root filesystem is read-only at run time.
# kubernetes ships an asyncio twin of its client (about 70 MB) that nothing here imports. The metrics extra
# (Pushgateway, OTLP; imported only with --metrics) is included.
RUN pip install --no-cache-dir --disable-pip-version-check --prefix=/install ".[metrics]" \
 && rm -rf /install/lib/python3.*/site-packages/kubernetes/aio

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY --from=build /install /usr/local
# --no-log-init: no lastlog/faillog entries (sparse files that grow with the UID).
RUN useradd --uid 10001 --no-create-home --no-log-init --shell /usr/sbin/nologin acr-refresh
USER 10001:10001
ENTRYPOINT ["acr-refresh"]
CMD ["run", "--config", "/config", "--log-format", "json"]
