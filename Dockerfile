# One image for every leadmesh process; each process is a different command:
#   python -m gateway | python -m services.<name> | leadmesh ...
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/leadmesh
WORKDIR /src
COPY pyproject.toml README.md ./
COPY proto/ proto/
COPY libs/ libs/
COPY services/ services/
COPY gateway/ gateway/
COPY cli/ cli/
RUN /opt/leadmesh/bin/pip install ".[otlp]"

FROM python:3.11-slim-bookworm
ENV PATH=/opt/leadmesh/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LEADMESH_HOME=/tmp/leadmesh
RUN groupadd --system --gid 10001 leadmesh \
    && useradd --system --uid 10001 --gid leadmesh --no-create-home --shell /usr/sbin/nologin leadmesh
COPY --from=build /opt/leadmesh /opt/leadmesh
USER 10001:10001
EXPOSE 8080 50050-50056
CMD ["python", "-m", "gateway"]
