#!/usr/bin/env bash
# The quality floor on a real embedded silo: for each seed, `job run --dataset digits --partition dirichlet:0.5 --rounds 10
# --quorum 2 --seed S` over 10 compute and 3 validator process vPods, with the job's default settings (or the job options given
# after the seeds, e.g. `--server-optimizer avg`). Prints one line per seed (final accuracy, first round at 0.95) and exits 1 when
# a seed ends below 0.95. Takes about 20 s per seed on two cores.
#
#   scripts/quality-floor.sh [SEEDS] [JOB-RUN OPTIONS...]      # SEEDS default 1,2,3,4,5,6,7,8,9,10,42
set -euo pipefail
cd "$(dirname "$0")/.."

seeds="${1:-1,2,3,4,5,6,7,8,9,10,42}"
shift || true

dotnet build src/Silo -c Release -nologo -v quiet >/dev/null
dotnet build src/Client/MetaNode.Cli -c Release -nologo -v quiet >/dev/null

work="$(mktemp -d -t metanode-quality-XXXXXX)"
gateway_port=$((30000 + RANDOM % 2000))
silo_port=$((11000 + RANDOM % 2000))
http_port=$((18000 + RANDOM % 2000))
cli="$PWD/src/Client/MetaNode.Cli/bin/Release/net10.0/metanode-cli"
silo_pid=""

cleanup() {
  if [ -n "$silo_pid" ] && kill -0 "$silo_pid" 2>/dev/null; then
    kill "$silo_pid" 2>/dev/null || true
    wait "$silo_pid" 2>/dev/null || true
  fi
  rm -rf "$work" "$HOME/.metanode/identities/127.0.0.1_${gateway_port}"
}
trap cleanup EXIT

(cd src/Silo/bin/Release/net10.0 && exec env \
  MetaNode__DataDirectory="$work/data" \
  MetaNode__HttpAddress="127.0.0.1:${http_port}" \
  MetaNode__SiloPort="${silo_port}" \
  MetaNode__GatewayPort="${gateway_port}" \
  dotnet metanode-silo.dll >"$work/silo.log" 2>&1) &
silo_pid=$!

for _ in $(seq 1 120); do
  grep -q "MetaNode silo ready" "$work/silo.log" 2>/dev/null && break
  kill -0 "$silo_pid" 2>/dev/null || { cat "$work/silo.log"; echo "the silo exited"; exit 1; }
  sleep 1
done
grep -q "MetaNode silo ready" "$work/silo.log" || { cat "$work/silo.log"; echo "the silo did not start in 120 s"; exit 1; }

export METANODE_GATEWAY="127.0.0.1:${gateway_port}"
export METANODE_IDENTITY="$work/data/identities/admin"
"$cli" cluster deploy --name compute --count 10 --type compute --cpu 100m --memory 200Mi >/dev/null
"$cli" cluster deploy --name validators --count 3 --type validator --cpu 100m --memory 200Mi >/dev/null
for _ in $(seq 1 120); do
  ready=$("$cli" vpod list --output json | python3 -c 'import json,sys; print(sum(1 for v in json.load(sys.stdin) if v.get("phase") == "Running" and v.get("health") == "Healthy"))')
  [ "$ready" -ge 13 ] && break
  sleep 1
done
"$cli" chain deploy --threshold 2 >/dev/null

below=0
echo "| seed | final accuracy | first round ≥ 0.95 | job |"
echo "|---:|---:|---:|---|"
for seed in ${seeds//,/ }; do
  job="quality-$seed-$RANDOM"
  "$cli" job run --compute-cluster compute --validator-cluster validators --dataset digits --partition dirichlet:0.5 \
    --rounds 10 --quorum 2 --seed "$seed" --job-id "$job" "$@" >"$work/run-$seed.log" 2>&1 || { cat "$work/run-$seed.log"; exit 1; }
  line=$("$cli" job results --id "$job" --output json | python3 -c '
import json, sys
r = json.load(sys.stdin)
accuracies = [x["accuracy"] for x in r["rounds"]]
first = next((x["round"] for x in r["rounds"] if x["accuracy"] >= 0.95), None)
print("%.4f %s %s" % (r["finalAccuracy"], first if first is not None else "-", r["phase"]))')
  read -r final first phase <<<"$line"
  echo "| $seed | $final | $first | $job ($phase) |"
  python3 -c "import sys; sys.exit(0 if float('$final') >= 0.95 and '$phase' == 'Completed' else 1)" || below=$((below + 1))
done

if [ "$below" -gt 0 ]; then
  echo "$below seed(s) below 0.95"
  exit 1
fi
echo "every seed reached 0.95"
