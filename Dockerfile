# oc-operator images: static release binaries on a shell-less base, non-root.
#   docker build -t ghcr.io/example/oc-operator:0.1.0 .                        # the operator
#   docker build --target simulator -t ghcr.io/example/oc-simulator:0.1.0 .    # the chart's sandbox
# The operator's binary is the one `hack/check-release.sh` builds and checks (static,
# no simulator or test control plane inside, no build path).

FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl && apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crates ./crates
COPY crds ./crds
COPY examples ./examples
COPY hack ./hack
COPY bench ./bench
ENV CC_x86_64_unknown_linux_musl=musl-gcc
# Dependencies' source paths are written as /cargo, not as the builder's folders.
ENV RUSTFLAGS="--remap-path-prefix=/usr/local/cargo=/cargo"
RUN cargo build --profile image --locked --target x86_64-unknown-linux-musl -p oc-operator --bin oc-operator

# Only built for `--target simulator` (BuildKit skips stages the target does not need).
FROM build AS build-simulator
RUN cargo build --release --locked --target x86_64-unknown-linux-musl -p liveplatform-sim --bin oc-simulator

FROM gcr.io/distroless/static-debian12:nonroot AS simulator
COPY --from=build-simulator /src/target/x86_64-unknown-linux-musl/release/oc-simulator /oc-simulator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/oc-simulator"]
CMD ["--listen=0.0.0.0:8080"]

FROM gcr.io/distroless/static-debian12:nonroot AS operator
COPY --from=build /src/target/x86_64-unknown-linux-musl/image/oc-operator /oc-operator
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/oc-operator"]
CMD ["run"]
