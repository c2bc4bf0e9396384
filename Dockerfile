# oc-operator image: a static release binary on a shell-less base, non-root.
#   docker build -t ghcr.io/example/oc-operator:0.1.0 .
#   docker push ghcr.io/example/oc-operator:0.1.0
# The binary is the same one `cargo build --release --locked --target
# x86_64-unknown-linux-musl` builds (see hack/check-release.sh).

FROM rust:1.95-bookworm AS build
RUN rustup target add x86_64-unknown-linux-musl && apt-get update && apt-get install -y --no-install-recommends musl-tools && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY crds ./crds
COPY examples ./examples
COPY hack ./hack
ENV CC_x86_64_unknown_linux_musl=musl-gcc
RUN cargo build --release --locked --target x86_64-unknown-linux-musl --bin oc-operator

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/x86_64-unknown-linux-musl/release/oc-operator /oc-operator
USER 65532:65532
EXPOSE 8081
ENTRYPOINT ["/oc-operator"]
CMD ["run"]
