# roster in a container: built from this checkout, run as a non-root user, data in /var/lib/roster.
#
#   docker build --build-arg BUILD_COMMIT=$(git rev-parse --short=12 HEAD) -t roster .
#   docker run -p 8080:8080 -v roster-data:/var/lib/roster roster
#
# On PostgreSQL: -e ROSTER_DATABASE_URL=postgres://… -e ROSTER_SECRET_KEY=… (see docs/scaling.md).

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# the commit `roster --version` names (the build context has no .git)
ARG BUILD_COMMIT=unknown
ENV BUILD_COMMIT=${BUILD_COMMIT}
RUN cargo build --release --locked -p roster-cli \
    && strip target/release/roster \
    && ./target/release/roster --version

FROM debian:bookworm-slim
# ca-certificates for TLS to a managed PostgreSQL; postgresql-client for `roster backup`/`restore` on PostgreSQL
# (pg_dump must be of the server's major version or newer: Debian 12 ships 15)
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/roster --shell /usr/sbin/nologin roster \
    && install -d -o roster -g roster -m 0700 /var/lib/roster
COPY --from=build /src/target/release/roster /usr/local/bin/roster
USER roster
WORKDIR /var/lib/roster
ENV ROSTER_DATABASE_URL=sqlite:///var/lib/roster/roster.db \
    ROSTER_LISTEN=0.0.0.0:8080 \
    ROSTER_LOG_FORMAT=json
VOLUME ["/var/lib/roster"]
EXPOSE 8080
# /readyz: 200 only when the database answers and every migration is applied
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["roster", "healthcheck"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["roster"]
CMD ["serve"]
