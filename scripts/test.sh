#!/usr/bin/env bash
# Runs the whole test suite and ends with one line "N passed, N failed".
# Tests start their own PostgreSQL (throwaway cluster on a free loopback port) and real workload processes.
set -uo pipefail
cd "$(dirname "$0")/.."

results="${TEST_RESULTS_DIR:-$PWD/TestResults}"
# Tests keep artifacts beside the results (the browser tests' screenshots in ui-screenshots/).
export TEST_RESULTS_DIR="$results"
rm -rf "$results"
mkdir -p "$results"

# The pinned npm packages tests use (committed lockfiles): solc-js and anvil (contracts, chain), the manifest validator,
# IPFS's own UnixFS importer/exporter and CAR reader (storage), and the JavaScript round-proof verifier (proofs).
for dir in contracts deploy/k8s-validate tests/ipfs-reference examples/proof-verifier; do
  if [ ! -d "$dir/node_modules" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || { echo "npm ci in $dir failed (Node.js and npm are needed)"; echo "0 passed, 1 failed"; exit 1; }
  fi
done

dotnet build MetaNode.Grains.sln -c Release -nologo -v quiet || { echo "0 passed, 1 failed"; exit 1; }
dotnet test MetaNode.Grains.sln -c Release --no-build -nologo \
  --logger "trx;LogFilePrefix=results" --logger "console;verbosity=normal" \
  --results-directory "$results" -- RunConfiguration.TestSessionTimeout=3000000
status=$?

passed=0
failed=0
shopt -s nullglob
for trx in "$results"/*.trx; do
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done

if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
  echo "no test ran"
  failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
