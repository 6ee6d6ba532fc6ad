# syntax=docker/dockerfile:1
# sparkcd's image: one static binary on distroless, running as the
# distroless "nonroot" user (65532) that deploy/base's pod security context
# expects.
#
#   docker build --build-arg VERSION=v0.1.0 -t ghcr.io/sparkcd/sparkcd:v0.1.0 .

FROM golang:1.26 AS build
ARG VERSION=dev
# Build for the platform asked for (docker buildx --platform), on the
# builder's own.
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src
ENV CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=readonly
# Dependencies first: a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w -X main.version=${VERSION}" -o /out/sparkcd ./cmd/sparkcd

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/sparkcd /sparkcd
USER 65532:65532
ENTRYPOINT ["/sparkcd"]
CMD ["serve"]
