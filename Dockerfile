# cs-pulse in a container: a build stage with the Rust toolchain, and a small runtime stage with
# only the binary, the shipped rules and a non-root user. How to run it, where the config and
# the secrets go, and how to back up the store: docs/deploying.md.
#
#   docker build -t cs-pulse .
#   docker run --rm cs-pulse check          # validates the default /etc/cs-pulse/config.toml

ARG RUST_VERSION=1
ARG DEBIAN_RELEASE=bookworm

# ---------------------------------------------------------------------------------------------
FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# No incremental artifacts in a one-off build. The release profile keeps line tables for local
# backtraces; the image drops debug info (about 175 MB → 40 MB) and keeps the symbols, so a
# panic's backtrace still names its functions.
ENV CARGO_INCREMENTAL=0 \
    CARGO_TERM_COLOR=never \
    CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_STRIP=debuginfo

# The dependencies first, with placeholder sources: this layer is built again only when
# Cargo.toml or Cargo.lock change, not on every change of cs-pulse's own code. Every
# [[bench]] of Cargo.toml needs a file for cargo to read the manifest (benches are not built).
COPY Cargo.toml Cargo.lock ./
# hadolint ignore=SC2013
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs \
    && touch src/lib.rs \
    && for bench in $(sed -n '/^\[\[bench\]\]/{n;s/^name = "\(.*\)"/\1/p}' Cargo.toml); do \
           echo 'fn main() {}' > "benches/${bench}.rs"; \
       done \
    && cargo build --release --locked \
    && rm -f src/main.rs src/lib.rs

# cs-pulse itself. rules/ and assets/ are compiled in (the built-in rules, scorecards and health
# model; the chart font); src/store/migrations too. COPY keeps the files' old times: touch them so
# that cargo rebuilds over the placeholders.
COPY src ./src
COPY assets ./assets
COPY rules ./rules
RUN touch src/main.rs src/lib.rs \
    && cargo build --release --locked \
    && install -D -m 0755 target/release/cs-pulse /out/cs-pulse

# ---------------------------------------------------------------------------------------------
FROM debian:${DEBIAN_RELEASE}-slim AS runtime

# A fixed uid/gid, so that a bind-mounted data directory can be given to it on the host
# (chown 10001:10001) and a platform can check runAsNonRoot.
ARG CS_PULSE_UID=10001
ARG CS_PULSE_GID=10001

# cs-pulse's TLS (rustls) trusts the Mozilla roots compiled into the binary, not the system's
# store; ca-certificates is here for anything else run in the container. The binary needs only
# glibc and libgcc, which the base image has: SQLite is compiled in. Not pinned: a rebuild takes
# Debian's security updates.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid "${CS_PULSE_GID}" cs-pulse \
    && useradd --system --uid "${CS_PULSE_UID}" --gid cs-pulse --no-create-home \
           --home-dir /var/lib/cs-pulse --shell /usr/sbin/nologin cs-pulse \
    && install -d -o cs-pulse -g cs-pulse -m 0750 /var/lib/cs-pulse \
    && install -d -m 0755 /etc/cs-pulse

COPY --from=build /out/cs-pulse /usr/local/bin/cs-pulse
# The shipped rules, health model and scorecards, where the config's relative paths find them
# ("rules/" next to config.toml). Mount your own config.toml over the default one, and your own
# rules directory over /etc/cs-pulse/rules if you change them; both read-only.
COPY rules /etc/cs-pulse/rules
COPY deploy/config.toml /etc/cs-pulse/config.toml

# The SQLite store (and its -wal and -shm files): a volume, so that it outlives the container.
VOLUME ["/var/lib/cs-pulse"]
WORKDIR /var/lib/cs-pulse

# Every command reads this config unless given --config (so `docker run IMAGE check` checks it);
# cs-pulse's own log lines at info, its libraries' at warn (CS_PULSE_LOG takes tracing's filter
# syntax).
ENV CS_PULSE_CONFIG=/etc/cs-pulse/config.toml \
    CS_PULSE_LOG=warn,cs_pulse=info

USER ${CS_PULSE_UID}:${CS_PULSE_GID}

# The HTTP server of `cs-pulse run` ([server] listen, which must be "0.0.0.0:8080" in a container
# to be reachable): /healthz, /readyz, /metrics and the chat endpoints. Nothing listens without
# [server].
EXPOSE 8080

# No HEALTHCHECK: the image has no HTTP client (no curl) and cs-pulse has no command that probes
# its own server. Point your orchestrator's HTTP probe at /healthz and /readyz instead.

# cs-pulse is PID 1 and stops gracefully on SIGTERM (running jobs finish, pending sends settle):
# give it time with `docker run --stop-timeout 300` or Compose's `stop_grace_period: 5m`.
STOPSIGNAL SIGTERM
ENTRYPOINT ["cs-pulse"]
CMD ["run", "--config", "/etc/cs-pulse/config.toml"]
