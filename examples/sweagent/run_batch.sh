#!/usr/bin/env bash
# SWE-agent 1.1.0 (installed from its repository: it is not on PyPI) with swerm inside.
# Run from SWE-agent's checkout (config/default.yaml). Every argument goes to `sweagent run-batch`
# unchanged; the decisions log lands beside preds.json.
#
# RETRY=1: SWE-agent's retry agent with swerm as its reviewer, so a low score starts another
# attempt (limits from swerm.toml's [policy]); otherwise swerm judges each finished instance.
set -euo pipefail
export SWERM_CONFIG="${SWERM_CONFIG:-$(dirname "$0")/../swerm.toml}"
MODEL="${MODEL:-gpt-4o}"
if [ "${RETRY:-0}" = 1 ]; then
    swerm sweagent retry-config config/default.yaml --model "$MODEL" -o swerm_retry.yaml
    CONFIG=(--config swerm_retry.yaml)
else
    CONFIG=(--config config/default.yaml --agent.model.name "$MODEL")
fi
swerm sweagent run-batch "${CONFIG[@]}" \
    --instances.type swe_bench --instances.subset lite --instances.split test \
    --instances.slice "${SLICE:-:10}" \
    "$@"
