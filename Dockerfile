# pitstop serve in a container: Node 20, sources run through tsx (no build step), the example
# feature repository baked in at /app. Mount your own repository at /repo and pass `--repo /repo`
# to serve it instead. Redis comes from PITSTOP_REDIS_URL (see docker-compose.yml).
FROM node:20-slim
WORKDIR /app
ENV NODE_ENV=production
# Dependencies first, so code changes do not invalidate the npm layer. lmdb and DuckDB ship
# prebuilt binaries for linux-x64/arm64 glibc, which node:20-slim is.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY src ./src
COPY proto ./proto
COPY pitstop.yaml ./
COPY definitions ./definitions
# gRPC, HTTP
EXPOSE 6566 6567
# Ready = a registry version is served and the online store answers.
HEALTHCHECK --interval=5s --timeout=2s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:6567/readyz').then(r => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/pitstop.mjs"]
CMD ["serve"]
