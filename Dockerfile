# fast-saas API image: a static binary on distroless, running as nonroot.
#   docker build -t fast-saas .
#   docker run -p 8080:8080 -v fast-saas-data:/data fast-saas
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X github.com/fast-saas/fast-saas/internal/cli.Version=${VERSION}" \
      -o /out/fast-saas ./cmd/fast-saas \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fast-saas /usr/local/bin/fast-saas
# The embedded SQLite database lives here unless DATABASE_URL is set.
COPY --from=build --chown=nonroot:nonroot /out/data /data
ENV FASTSAAS_ADDR=0.0.0.0:8080 \
    FASTSAAS_DATA_DIR=/data
EXPOSE 8080
USER nonroot:nonroot
# distroless has no shell or curl: the binary probes itself.
HEALTHCHECK --interval=10s --timeout=5s --retries=3 \
  CMD ["/usr/local/bin/fast-saas", "probe", "http://127.0.0.1:8080/health"]
ENTRYPOINT ["/usr/local/bin/fast-saas"]
CMD ["serve"]
