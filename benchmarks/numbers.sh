#!/bin/sh
# numbers.sh (make numbers): measure again, on this machine, the numbers
# README.md quotes: how close the GPU's and the CPU reference's logits are
# to PyTorch's float64 logits for the five ResNets of
# testdata/reference.json (synthetic weights, the synthetic inputs and the
# four fixture images; resnet.TestPyTorchGPU and TestPyTorchCPU), and how
# long each subcommand takes. It prints Markdown: the machine, then a table
# per kind of number, each row with the command that measured it.
#
# Environment: GO (default go), BIN (default bin/resnet-gpu, built first by
# make numbers), ARCHS (default the five ResNets).
set -eu
GO=${GO:-go}
BIN=${BIN:-bin/resnet-gpu}
ARCHS=${ARCHS:-resnet18 resnet34 resnet50 resnet101 resnet152}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

cpu=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2 | sed 's/^ *//')
adapter=$("$BIN" devices 2>/dev/null | head -1 | sed 's/^ *[0-9]* *//')
echo "Measured $(date -u +%Y-%m-%d) at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown):"
echo "$(nproc) cores of ${cpu:-an unknown CPU}, load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown);"
echo "adapter ${adapter:-none}; $($GO version | cut -d' ' -f3)."
echo

echo "| logits vs PyTorch float64, max over inputs of max\|Δ\|/max\|ref\| | GPU | CPU reference |"
echo "| --- | --- | --- |"
run=""
for a in $ARCHS; do run="$run|$a"; done
run=${run#|}
CI=true $GO test -count=1 -v -timeout 60m -run "TestPyTorch(GPU|CPU)/($run)\$" ./resnet/ >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
for a in $ARCHS; do
	awk -v arch="$a" '
		/^=== RUN   TestPyTorchGPU\// { ex = "gpu" }
		/^=== RUN   TestPyTorchCPU\// { ex = "cpu" }
		$0 ~ ": " arch " .*logits max\\|Δ\\|/max\\|ref\\| = " { v = $NF + 0; if (v > m[ex]) m[ex] = v; n[ex]++ }
		END {
			g = n["gpu"] ? sprintf("%.1e", m["gpu"]) : "not run"
			c = n["cpu"] ? sprintf("%.1e", m["cpu"]) : "—" # the CPU test runs resnet18 and resnet50
			printf "| %s (`CI=true go test -v -run '\''TestPyTorch(GPU|CPU)/%s$'\'' ./resnet/`) | %s | %s |\n", arch, arch, g, c
		}' "$log"
done
echo

echo "| subcommand | wall time |"
echo "| --- | --- |"
timed() {
	t0=$(date +%s.%N)
	"$BIN" "$@" >/dev/null 2>&1 || { echo "| \`resnet-gpu $*\` | failed: rerun it to see why |"; return; }
	t1=$(date +%s.%N)
	echo "| \`resnet-gpu $*\` | $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s |"
}
timed devices
timed summary --arch resnet50
timed classify --weights synthetic:0 testdata/images/*.png testdata/images/*.jpg
timed demo testdata/images
timed check --arch resnet50
timed check-ops
timed bench --arch resnet50
timed bench --arch resnet50 --profile
timed kernels --arch resnet50
