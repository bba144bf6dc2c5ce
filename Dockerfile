# regslo as a container: `docker build -t regslo .` then `docker run -v $PWD/regslo.yml:/etc/regslo/regslo.yml regslo`.
# docker-compose.yml builds this image for the regslo, replicator and pager services.
FROM python:3.11-slim
# the commit this image is built from, shown as regslo_build_info{revision}:
# docker build --build-arg REGSLO_REVISION=$(git rev-parse HEAD) -t regslo .
ARG REGSLO_REVISION=""
ENV REGSLO_REVISION=${REGSLO_REVISION}

WORKDIR /src
COPY pyproject.toml README.md ./
COPY regslo ./regslo
RUN pip install --no-cache-dir . && rm -rf /src

# nobody: regslo needs no privileges; probe images live in the registries, not here
USER 65534:65534
WORKDIR /tmp
EXPOSE 9745
ENTRYPOINT ["regslo"]
# inside a container the exporter must listen on all of the container's interfaces; publish it on
# 127.0.0.1 of the host (as docker-compose.yml does) unless Prometheus scrapes from elsewhere
CMD ["run", "-c", "/etc/regslo/regslo.yml", "--web.listen-address", ":9745"]
