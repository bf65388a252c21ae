# The MetaNode silo image: a self-contained publish of src/Silo on slim Debian, running as an unprivileged user.
# Build it with deploy/docker/build-silo-image.sh, which publishes the silo into the build context as app/.
# In the cluster the silo listens on 0.0.0.0 (MetaNode__HttpAddress) and takes its address from POD_IP (deploy/k8s).
FROM debian:bookworm-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 1654 app \
    && useradd --uid 1654 --gid 1654 --no-create-home --shell /usr/sbin/nologin app \
    && mkdir -p /var/lib/metanode \
    && chown app:app /var/lib/metanode

WORKDIR /app
COPY app/ /app/

ENV DOTNET_RUNNING_IN_CONTAINER=true \
    DOTNET_gcServer=0 \
    MetaNode__DataDirectory=/var/lib/metanode \
    MetaNode__HttpAddress=0.0.0.0:8080

USER 1654:1654
EXPOSE 11111 30000 8080
ENTRYPOINT ["/app/metanode-silo"]
