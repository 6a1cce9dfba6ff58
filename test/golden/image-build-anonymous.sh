# pulumi-swarm: build and push 10.77.0.2:5000/web/api:t1
set -eu
docker build --quiet --file Dockerfile --tag 10.77.0.2:5000/web/api:t1 /src/api >/dev/null
docker push 10.77.0.2:5000/web/api:t1 >&2
digest=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' 10.77.0.2:5000/web/api:t1 | grep -F 10.77.0.2:5000/web/api@ | head -n 1)
if [ -z "$digest" ]; then
  echo "pulumi-swarm: pushed 10.77.0.2:5000/web/api:t1 but the engine reports no digest for it" >&2
  exit 1
fi
printf '%s\n' "$digest"
