# One image for every service; Kubernetes chooses `python -m <service> api|worker|migrate`.
# Build stage: resolve the locked dependencies into /opt/dialog with uv.
FROM python:3.11-slim AS build
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /src
COPY . .
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN sh deploy/image/install.sh /opt/dialog && rm -rf /root/.cache

# Runtime stage: the environment and the interpreter only; no uv, no sources, no build tools.
FROM python:3.11-slim
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin dialog
COPY --from=build /opt/dialog /opt/dialog
ENV PATH=/opt/dialog/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
EXPOSE 8001 8002 8003 8004 6601 6602 6603 6604
# Kubernetes uses its own probes; this serves docker and podman: /healthz of the API or worker
HEALTHCHECK --interval=15s --timeout=3s --start-period=60s --retries=3 \
    CMD ["python", "-m", "dialogkit.healthcheck"]
CMD ["python", "-m", "consent", "api"]
