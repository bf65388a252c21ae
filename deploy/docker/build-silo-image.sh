#!/usr/bin/env bash
# Builds the silo image (default tag metanode/silo:latest): publishes src/Silo self-contained for linux-x64 and builds
# deploy/docker/silo.Dockerfile around it. Push it to your registry and set the image in deploy/k8s (kustomize "images").
set -euo pipefail
cd "$(dirname "$0")/../.."
tag="${1:-metanode/silo:latest}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
dotnet publish src/Silo -c Release -r linux-x64 --self-contained -nologo -o "$context/app"
cp deploy/docker/silo.Dockerfile "$context/Dockerfile"
docker build -t "$tag" "$context"
echo "built $tag"
