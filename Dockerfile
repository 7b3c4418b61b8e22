# syntax=docker/dockerfile:1
# MS5 Floor's container image: the service (`ms5-floor`) and the auditors' and admins' tools
# (`ms5-replay`, used by the backup CronJob). Every setting comes from the environment (README,
# "Configuration"); the image holds no key and no configuration.
#
#   docker build -t ms5-floor:$(git rev-parse --short HEAD) .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# The cache mounts keep the registry and the build directory between builds of the same builder.
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p api -p replay-tools \
    && mkdir -p /out \
    && cp target/release/ms5-floor target/release/ms5-replay /out/

# The runtime has no shell and no package manager: glibc, the CA certificates and our two binaries.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/ms5-floor /out/ms5-replay /usr/local/bin/
# The migrations are compiled into the binary; nothing is read from the image's filesystem at run time,
# so the root filesystem can be mounted read-only.
ENV MS5_LISTEN=0.0.0.0:8080 \
    MS5_LOG_FORMAT=json
EXPOSE 8080
# distroless's `nonroot` user, by number so that Kubernetes can check `runAsNonRoot`.
USER 65532:65532
# Exit 0 when GET /health/live on MS5_LISTEN answers 200; no shell or curl is needed in the image.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/ms5-floor", "--probe-live"]
ENTRYPOINT ["/usr/local/bin/ms5-floor"]
