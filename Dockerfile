# The image of `mir-ref cluster k8s --image ...` (and of any container run):
#   docker build -t mir-ref .
#   docker run --rm -v $PWD:/work mir-ref experiment /work/configs/quickstart.yml --output /work/runs/quickstart
# The binary is `mir-ref` on PATH; ONNX Runtime is provisioned from its PyPI wheel at build time
# (pip downloads it), the model cards are under /opt/mir-ref/models (fetch a model into a
# volume with `mir-ref models fetch NAME`, or bake it in with a derived image).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo install --locked --path xtask --root /opt/mir-ref

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates python3 python3-pip \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/mir-ref/bin/mir-ref /usr/local/bin/mir-ref
COPY configs/models /opt/mir-ref/models
ENV MIRREF_MODELS=/opt/mir-ref/models \
    MIRREF_CACHE_DIR=/opt/mir-ref/cache
RUN mir-ref setup-ort
ENTRYPOINT ["mir-ref"]
