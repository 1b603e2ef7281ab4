# Threadloom: one process, one SQLite file, everything it keeps in /data. See docs/deploy.md.
#   docker build -t threadloom .
#   docker run -d --name threadloom -v threadloom-data:/data -p 127.0.0.1:8787:8787 \
#     -e DISCORD_TOKEN=... -e OLLAMA_HOST=http://host.docker.internal:11434 \
#     --add-host=host.docker.internal:host-gateway threadloom
# or, with Ollama beside it: docker compose up -d (docker-compose.yml)

# ---- build: install everything, compile TypeScript, then drop the dev dependencies ----
FROM node:22-bookworm-slim AS build
# better-sqlite3 compiles from source when no prebuilt binary fits this Node and platform
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
# tsc -p tsconfig.build.json writes dist/src (main.js, cli.js) and dist/migrations, which is the
# folder Threadloom applies on every start; then only the production dependencies are kept
# (htmx.org among them: the admin web serves it straight from node_modules)
RUN npm run build \
 && npm prune --omit=dev

# ---- run: no compiler, no sources, a non-root user ----
FROM node:22-bookworm-slim
# MALLOC_ARENA_MAX: two malloc arenas instead of one per thread, whose high-water marks glibc
# keeps (bench:soak with Discord connected: 320 MB of anonymous memory instead of 145-205 MB)
ENV NODE_ENV=production \
    MALLOC_ARENA_MAX=2 \
    THREADLOOM_DATA_DIR=/data \
    THREADLOOM_ADMIN_HOST=0.0.0.0
WORKDIR /app
# package.json says "type": "module": the compiled files are ES modules
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# the admin web's eta templates and static files, read at run time (found upward from dist/src/admin)
COPY views ./views
# the image's own user (uid 1000) owns the data dir; a named volume takes this ownership
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# the admin web (/healthz needs no login); Slack's HTTP mode, when used, listens on slack.port (3000)
EXPOSE 8787
# SIGTERM lets answers being written finish (THREADLOOM_SHUTDOWN_GRACE_MS, 10 s): give `docker stop`
# more than that (docker stop -t 30; compose: stop_grace_period)
STOPSIGNAL SIGTERM
# no curl in the slim image: Node's own fetch, on the port the admin web listens on. The admin web
# starts after the platforms have connected (a Matrix first sync may take up to 2 minutes).
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.THREADLOOM_ADMIN_PORT||8787)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "dist/src/main.js"]
