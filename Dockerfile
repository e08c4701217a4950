# syntax=docker/dockerfile:1
# Drydock as a container image: Node.js 22 (node:22-slim) and the npm package `npm run pack` makes
# (the CLI bundle alone: no dependencies, nothing fetched from a registry while building).
#
#   npm ci && npm run pack              # → drydock-scan-<version>.tgz in the repository root
#   docker build -t drydock .           # BuildKit (the default builder since Docker 23)
#   docker run --rm -v drydock-cache:/home/node/.cache/drydock drydock feeds sync
#   docker run --rm -v drydock-cache:/home/node/.cache/drydock -v "$PWD:/work" -w /work \
#     drydock scan registry.example.com/app:1.0 --fail-on high -o table -o sarif=drydock.sarif
#
# One tarball must match PACKAGE in the build context (.dockerignore lets only *.tgz in); with
# several, name it: --build-arg PACKAGE=drydock-scan-0.1.0.tgz. The tarball is bind-mounted for
# the install, so no layer keeps it. The image runs as the unprivileged `node` user; Drydock's
# cache (feeds, layers) is /home/node/.cache/drydock: mount a volume there to keep it.
# test/ci/dockerfile.test.ts builds the equivalent image as an OCI layout without an engine and
# scans it with Drydock.
ARG NODE_IMAGE=node:22-slim
FROM ${NODE_IMAGE}
ARG PACKAGE=drydock*.tgz
RUN --mount=type=bind,source=.,target=/pkg \
    set -- /pkg/$PACKAGE; \
    if [ "$#" -ne 1 ] || [ ! -f "$1" ]; then echo "Dockerfile: expected one package tarball matching $PACKAGE in the build context, found: $*; run npm run pack, or pass --build-arg PACKAGE=<file>" >&2; exit 1; fi; \
    npm install -g --omit=dev --no-audit --no-fund --no-update-notifier "$1" && \
    rm -rf /root/.npm && \
    drydock --version
USER node
ENTRYPOINT ["drydock"]
CMD ["--help"]
