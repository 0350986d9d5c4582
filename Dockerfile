# One image for every fedrl component; the command picks it:
#   learner:  npx fedrl learner --config configs/lunarlander-hybrid.yaml
#   actor:    npx fedrl actor   --config configs/lunarlander-hybrid.yaml --id site-3
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
USER node
ENTRYPOINT ["node", "bin/fedrl.mjs"]
CMD ["--help"]
