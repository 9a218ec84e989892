#!/usr/bin/env bash
# SWE-agent (installed from GitHub: it is not on PyPI) with swerm verifying each instance.
# Every argument goes to `sweagent run-batch` unchanged; the decisions log lands beside preds.json.
set -euo pipefail
export SWERM_CONFIG="${SWERM_CONFIG:-$(dirname "$0")/../swerm.toml}"
swerm sweagent run-batch \
    --config config/default.yaml \
    --agent.model.name "${MODEL:-gpt-4o}" \
    --instances.type swe_bench --instances.subset lite --instances.split test \
    --instances.slice "${SLICE:-:10}" \
    "$@"
