# One image for every fedrl component; the command picks it:
#   learner:  learner --config configs/lunarlander-hybrid.yaml
#   actor:    actor   --config configs/lunarlander-hybrid.yaml --id actor-3   (or FEDRL_ACTOR_ID)
# node runs the CLI in-process (bin/fedrl.mjs registers tsx, no child), so as PID 1 it receives
# SIGINT/SIGTERM itself: the first drains and checkpoints, a second forces.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# --omit=optional: tfjs-node downloads libtensorflow at install time; fedrl runs without it.
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY core ./core
COPY envs ./envs
COPY algorithms ./algorithms
COPY federation ./federation
COPY transport ./transport
COPY nodes ./nodes
COPY launch ./launch
COPY configs ./configs
COPY data/README.md ./data/README.md
# The writable paths belong to the user the image runs as; a named volume mounted on /app/runs
# is created from this directory, so it starts owned by node too.
RUN mkdir -p /app/runs /app/data && chown -R node:node /app/runs /app/data
USER node
VOLUME ["/app/runs"]
ENTRYPOINT ["node", "bin/fedrl.mjs"]
CMD ["--help"]
