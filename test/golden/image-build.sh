# pulumi-swarm: build and push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api:0123456789abcdef0123456789abcdef
set -eu
umask 077
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT
docker --config "$cfg" login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com >/dev/null
docker --config "$cfg" build --quiet --platform linux/amd64 --file Dockerfile --build-arg 'A=x y' --build-arg BASE_IMAGE=python:3.12-slim --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api:0123456789abcdef0123456789abcdef /src/stacks/web/api >/dev/null
docker --config "$cfg" push 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api:0123456789abcdef0123456789abcdef >&2
digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api:0123456789abcdef0123456789abcdef | grep -F 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api@ | head -n 1)
if [ -z "$digest" ]; then
  echo "pulumi-swarm: pushed 123456789012.dkr.ecr.eu-west-1.amazonaws.com/prod/web/api:0123456789abcdef0123456789abcdef but the engine reports no digest for it" >&2
  exit 1
fi
printf '%s\n' "$digest"
