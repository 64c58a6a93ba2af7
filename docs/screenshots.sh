#!/usr/bin/env bash
# Renders the README's report screenshots: real `simsched compare` reports on the bundled openb sample,
# drawn by headless Chromium (Debian's `chromium` package). Not part of CI; run it by hand after a change
# to the report, look at the pictures, and commit them.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "needs chromium (apt-get install chromium)" >&2; exit 1; }
cargo build --release -q -p simsched
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
simsched=target/release/simsched
$simsched compare --report "$work/compare.html" -q >/dev/null
$simsched compare --cluster traces/samples/openb/openb_node_list_gpu_node.csv \
    --workload traces/samples/openb/openb_pod_list_default.csv --demand-sweep 130 --seeds 10 --seed 42 \
    --report "$work/demand-sweep.html" -q >/dev/null
for name in compare demand-sweep; do
    chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
        --disable-component-update --disable-sync --user-data-dir="$work/profile" --hide-scrollbars \
        --window-size=1400,1500 --screenshot="docs/report-$name.png" "file://$work/$name.html" 2>/dev/null
done
ls -l docs/report-*.png
