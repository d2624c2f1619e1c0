#!/usr/bin/env bash
# The progress protocol from bash: one JSON object per line on stdout when STRATEGY_PROGRESS=json.
set -euo pipefail
count=3
pattern='"count": *([0-9]+)'  # the runner validated --params-json against the schema first
if [[ "${2:-}" =~ $pattern ]]; then count=${BASH_REMATCH[1]}; fi
emit() { if [[ "${STRATEGY_PROGRESS:-}" == json ]]; then printf '%s\n' "$1"; fi; }
for ((i = 1; i <= count; i++)); do
  emit "{\"event_type\":\"progress\",\"stage\":\"counting\",\"progress_percent\":$((100 * i / count)),\
\"message\":\"Counted $i\",\"completed_items\":$i,\"total_items\":$count}"
done
echo "[warning] counting is all this example does" >&2  # a [level] tag sets a stderr line's level
if [[ "${STRATEGY_PROGRESS:-}" == json ]]; then emit "{\"event_type\":\"result\",\"data\":{\"counted\":$count}}"
else echo "{\"counted\": $count}"; fi
