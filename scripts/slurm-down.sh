#!/usr/bin/env bash
# Stop the test cluster started by scripts/slurm-up.sh (slurmd, slurmctld).
# munged is left running; state, logs and slurm.conf are kept for reuse.
set -euo pipefail
STATE=${MIRREF_SLURM_DIR:-$HOME/.cache/mir-ref/slurm}
[[ $EUID -eq 0 ]] || exec sudo -E MIRREF_SLURM_DIR="$STATE" bash "$0" "$@"

for d in slurmd slurmctld; do
  pid=$(cat "$STATE/run/$d.pid" 2>/dev/null) || continue
  # Only kill the pid if it still is that daemon (pid files survive reboots).
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$d" ]] || continue
  kill "$pid"
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
  echo "slurm-down: stopped $d ($pid)" >&2
done
