# Threadloom: one process, one SQLite file in /data.
#   docker build -t threadloom .
#   docker run -v threadloom-data:/data -e DISCORD_TOKEN=... -e OLLAMA_HOST=http://host.docker.internal:11434 threadloom

FROM node:20-bookworm-slim AS build
# better-sqlite3 compiles from source
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    THREADLOOM_DATA_DIR=/data \
    THREADLOOM_ADMIN_HOST=0.0.0.0
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 8787
CMD ["node", "dist/src/main.js"]
