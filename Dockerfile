# The project's images, one target per service, built from one compile of the workspace:
#
#   docker build --target collector  -t ptrack/collector  .
#   docker build --target processor  -t ptrack/processor  .
#   docker build --target events-api -t ptrack/events-api .
#   docker build --target web-demo   -t ptrack/web-demo   .
#
# `docker compose build` and `ptrack up --runtime docker --build` do exactly this. The
# health checks, ports and environment come from the stack description (compose.yaml,
# the docker runtime, kube/), not from here: the images only carry the binaries.

# bookworm on both sides: the binaries link glibc dynamically.
ARG RUST_IMAGE=rust:1-bookworm
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${RUST_IMAGE} AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
        -p ptrack-collector -p ptrack-processor -p ptrack-events-api -p ptrack-web-demo \
        -p ptrack \
    && mkdir /out \
    && cp target/release/ptrack target/release/ptrack-collector \
          target/release/ptrack-processor target/release/ptrack-events-api \
          target/release/ptrack-web-demo /out/

# curl is what the container health checks call (`curl -fsS http://127.0.0.1:PORT/health`);
# bash's /dev/tcp checks a TCP port.
FROM ${BASE_IMAGE} AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home ptrack
USER ptrack

FROM runtime AS collector
COPY --from=build /out/ptrack-collector /usr/local/bin/
ENV COLLECTOR_ADDR=0.0.0.0:8000
EXPOSE 8000
ENTRYPOINT ["ptrack-collector"]

FROM runtime AS processor
COPY --from=build /out/ptrack-processor /usr/local/bin/
ENV PROCESSOR_ADDR=0.0.0.0:8002
EXPOSE 8002
ENTRYPOINT ["ptrack-processor"]

FROM runtime AS events-api
COPY --from=build /out/ptrack-events-api /usr/local/bin/
ENV EVENTS_API_ADDR=0.0.0.0:8001
EXPOSE 8001
ENTRYPOINT ["ptrack-events-api"]

# The demo shop: its pages and the tracker are compiled into the binary.
FROM runtime AS web-demo
COPY --from=build /out/ptrack-web-demo /usr/local/bin/
ENV WEB_DEMO_ADDR=0.0.0.0:3000
EXPOSE 3000
ENTRYPOINT ["ptrack-web-demo"]

# The embedded broker (tansu, SQLite) as a container: a stand-in for Apache Kafka where
# no registry is reachable. Not used by compose.yaml or kube/.
FROM runtime AS broker
COPY --from=build /out/ptrack /usr/local/bin/
USER root
RUN mkdir -p /var/lib/kafka/data && chown ptrack /var/lib/kafka/data
USER ptrack
EXPOSE 9092
# Where the Apache Kafka image keeps its log, so the same volume mount works.
ENTRYPOINT ["ptrack", "broker", "--addr", "0.0.0.0:9092", "--advertise", "broker:9092", "--data", "/var/lib/kafka/data/broker.db"]
