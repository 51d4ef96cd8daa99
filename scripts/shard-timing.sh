#!/bin/bash
# Wall time of an extraction with N = 1, 2, 3 local workers (`--stage extract --shard k/N`
# processes started together), after a `--stage datasets`: scripts/shard-timing.sh [CONFIG].
# PIN=1 pins worker k to core k mod 2.
set -e
BIN=${MIRREF_BIN:-target/debug/mir-ref}
CFG=${1:-configs/quickstart.yml}
for N in 1 2 3; do
  OUT=${TMPDIR:-/tmp}/mir-ref-workers-$N; rm -rf "$OUT"
  RUST_LOG=warn $BIN experiment $CFG --output $OUT --stage datasets > /dev/null
  start=$(date +%s.%N)
  for k in $(seq 0 $((N-1))); do
    ${PIN:+taskset -c $((k % 2))} env RUST_LOG=warn $BIN experiment $CFG --output $OUT --stage extract --shard $k/$N > /dev/null &
  done
  wait
  end=$(date +%s.%N)
  echo "workers=$N extraction_wall_s=$(echo "$end - $start" | bc)"
done
