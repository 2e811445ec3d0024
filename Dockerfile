# One image for both roles: the web server (`node --import tsx server.ts`: Next.js + Socket.IO) and
# the worker (`node --import tsx workers/main.ts`, the compose file's worker command).

# Build the pages with every dependency.
FROM node:24-bookworm-slim AS build
WORKDIR /app
ENV NEXT_TELEMETRY_DISABLED=1
COPY package.json package-lock.json ./
RUN npm ci
COPY . .
RUN npm run build

# Production dependencies only (tsx runs the TypeScript entry points; it is one of them).
FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production NEXT_TELEMETRY_DISABLED=1
# A container is reached through its network interface, never its loopback: listen on all of them.
# The web server then refuses to start without DASHBOARD_TOKEN (docs/security.md); workers ignore HOST.
ENV HOST=0.0.0.0
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/.next ./.next
COPY package.json next.config.js tsconfig.json server.ts ./
COPY app ./app
COPY lib ./lib
COPY workers ./workers
# The image's files stay root's; the processes run as the unprivileged `node` user of the base image.
USER node
EXPOSE 3000
CMD ["node", "--import", "tsx", "server.ts"]
