package catalog

// Pinned images: the one place to bump versions. Every tag is a released
// version (never "latest"); a test rejects untagged or "latest" references.
// Tags were checked against upstream files and third-party deployments in
// 2026-11 (see spec/upstreams.md); bump them together with a test run.
const (
	ImagePostgres         = "postgres:18.1-alpine"
	ImageRedis            = "redis:8.2-alpine"
	ImageCaddy            = "caddy:2.10.2-alpine"
	ImageLogto            = "svhd/logto:1.41.0"
	ImageLagoAPI          = "getlago/api:v1.48.1"
	ImageLagoFront        = "getlago/front:v1.48.1"
	ImageLagoPDF          = "getlago/lago-gotenberg:8.15"
	ImageRustFS           = "rustfs/rustfs:1.0.0-rc.6"
	ImageMinioClient      = "minio/mc:RELEASE.2025-08-13T08-35-41Z"
	ImageGlitchTip        = "glitchtip/glitchtip:6.2.6"
	ImageUptimeKuma       = "louislam/uptime-kuma:2.5.5"
	ImageGrafana          = "grafana/grafana:13.1.0"
	ImagePrometheus       = "prom/prometheus:v3.11.3"
	ImageLoki             = "grafana/loki:3.6.10"
	ImageAlloy            = "grafana/alloy:v1.17.1"
	ImageNodeExporter     = "quay.io/prometheus/node-exporter:v1.9.1"
	ImageCAdvisor         = "ghcr.io/google/cadvisor:v0.57.0"
	ImagePostgresExporter = "quay.io/prometheuscommunity/postgres-exporter:v0.20.1"
	ImageRedisExporter    = "oliver006/redis_exporter:v1.69.0"
	ImageMatomo           = "matomo:5.13.0-apache"
	ImageMariaDB          = "mariadb:11.8"
	ImageMautic           = "mautic/mautic:5.2.8-apache"
	ImageStalwart         = "stalwartlabs/stalwart:v0.16.22"
	ImageNocoDB           = "nocodb/nocodb:0.263.8"
	ImageN8N              = "docker.n8n.io/n8nio/n8n:2.36.9"
	ImageN8NRunners       = "n8nio/runners:2.36.9"
	ImageAppsmith         = "appsmith/appsmith-ce:v1.85"
	ImageDocmost          = "docmost/docmost:0.24.0"
	ImageLibreChat        = "ghcr.io/danny-avila/librechat:v0.8.7"
	ImageMongo            = "mongo:8.0.20"
	ImageMeilisearch      = "getmeili/meilisearch:v1.35.1"
	ImageLangflow         = "langflowai/langflow:1.12.0"
	ImageOllama           = "ollama/ollama:0.35.1"
	ImageLangfuse         = "langfuse/langfuse:3.225.7"
	ImageLangfuseWorker   = "langfuse/langfuse-worker:3.225.7"
	ImageClickHouse       = "clickhouse/clickhouse-server:26.3"

	// Our own image: built by the generated Dockerfile from these bases.
	ImageGoBuilder  = "golang:1.26.8-alpine"
	ImageDistroless = "gcr.io/distroless/static-debian12:nonroot@sha256:b7bb25d9f7c31d2bdd1982feb4dafcaf137703c7075dbe2febb41c24212b946f"
	// ImageFastSaaS is the tag of the image built from the Dockerfile.
	ImageFastSaaS = "fast-saas/fast-saas:${FASTSAAS_VERSION}"
)
