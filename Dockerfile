# One image for every service; the Kubernetes manifests choose
# `python -m <service> api|worker|migrate`.
FROM python:3.11-slim
RUN pip install --no-cache-dir uv==0.13.9 \
    && useradd --uid 10001 --user-group --no-create-home dialog
WORKDIR /app
COPY . .
ENV UV_PROJECT_ENVIRONMENT=/opt/dialog PATH=/opt/dialog/bin:$PATH
RUN uv sync --frozen --no-dev --all-packages --no-editable && rm -rf /root/.cache
USER 10001
