# syntax=docker/dockerfile:1
# The databoard image: a static binary on distroless, non-root, listening on 8080 like the old image.
#   docker build --build-arg VERSION=v1.0.0 -t databoard .

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first, so code changes do not re-download them.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=""
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/databoard ./cmd/databoard \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/databoard /usr/local/bin/databoard
# The embedded dashboard store's directory, writable by the nonroot user (65532); used only when
# neither MONGO_HOST nor MONGO_URI is set.
COPY --from=build --chown=65532:65532 /out/data /var/lib/databoard
ENV LISTEN_ADDR=:8080 \
    DATA_DIR=/var/lib/databoard
VOLUME ["/var/lib/databoard"]
EXPOSE 8080
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/databoard"]
