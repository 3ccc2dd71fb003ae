#!/usr/bin/env bash
# Failover drills: each fault in turn against a fresh local mesh, under steady load.
# Writes a JSON report and an SVG chart per fault into ./drill-reports and fails if any drill lost a request.
#   bash examples/drill.sh            # all faults, 9 s each
#   DRILL_DURATION=4s bash examples/drill.sh kill freeze
set -euo pipefail
cd "$(dirname "$0")/.."
out="${DRILL_OUT:-drill-reports}"
mkdir -p "$out"
faults=("$@")
[ ${#faults[@]} -gt 0 ] || faults=(kill freeze drain partition registry-down)
status=0
for fault in "${faults[@]}"; do
  echo "== drill: $fault"
  if ! node bin/spear-mesh.js drill --fault "$fault" --duration "${DRILL_DURATION:-9s}" --rate "${DRILL_RATE:-200}" \
      --report "$out/$fault.json" --chart "$out/$fault.svg"; then
    status=1
  fi
done
exit $status
