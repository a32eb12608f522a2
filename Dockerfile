# The weft binary in a small Debian image: `docker build -t weft .`
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release -p weft --locked && cp target/release/weft /weft

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /weft /usr/local/bin/weft
# Agents hold no state of record; the data directory only matters for the embedded default.
ENV WEFT_DATA_DIR=/var/lib/weft
VOLUME /var/lib/weft
EXPOSE 9092 9644
ENTRYPOINT ["weft"]
CMD ["agent", "--listen", "0.0.0.0:9092", "--admin-listen", "0.0.0.0:9644"]
