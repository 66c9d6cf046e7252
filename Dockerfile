# electrum-edge indexer image: the indexer and the electrum-edge command, run as uid 1000.
# Built for a read-only root filesystem: the only writable places are /data (the index, a volume)
# and /tmp (tsx's compile cache; mount a tmpfs there, as docker-compose.yml does).
# The base is pinned to an exact release; pin its digest too (node:20.20.2-bookworm-slim@sha256:...)
# once you have checked it with `docker buildx imagetools inspect`.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
# better-sqlite3 builds from source when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund \
 && npm cache clean --force
COPY core/ core/
COPY indexer/ indexer/
COPY cli/ cli/
COPY bin/ bin/
COPY migrations/ migrations/
RUN find core indexer cli -name '*.test.ts' -delete

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    DB_DIRECTORY=/data \
    RPC_HOST=127.0.0.1 \
    RPC_PORT=8000
WORKDIR /app
# Owned by root and not writable by the service user: a compromised process cannot change code.
COPY --from=build /app /app
RUN ln -s /app/bin/electrum-edge.js /usr/local/bin/electrum-edge \
 && mkdir -p /data \
 && chown 1000:1000 /data \
 && chmod 700 /data
# uid 1000 is the image's unprivileged `node` user.
USER 1000:1000
VOLUME ["/data"]
# The index server (Hrana, bearer token); publish it on 127.0.0.1 only and tunnel it.
EXPOSE 8081
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
  CMD ["electrum-edge", "rpc", "getinfo", "--timeout", "5"]
CMD ["node", "--import", "tsx", "indexer/main.ts"]
