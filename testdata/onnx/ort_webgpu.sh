#!/bin/sh
# ONNX Runtime's WebGPU provider (Dawn) beside our bench on the same Vulkan
# device, for BENCHMARKS.md. Dawn refuses Debian bookworm's Mesa 22.3
# lavapipe (it lacks shaderUniform*ArrayDynamicIndexing), so `setup` fetches
# Mesa 25's Vulkan drivers from bookworm-backports and unpacks them into a
# folder with `dpkg -x`, installing nothing system-wide; `run` selects that
# lavapipe with VK_ICD_FILENAMES for ORT and for us, and also times us on
# the system's Mesa 22.3. Each round runs, one after the other:
#
#	ours on Mesa 22.3:  resnet-gpu bench --weights ONNX
#	ours on Mesa 25:    resnet-gpu bench --weights ONNX
#	ours on Mesa 25:    resnet-gpu bench --arch resnet50 --weights synthetic:0
#	ORT WebGPU, Mesa 25: node ort_bench.mjs ONNX WEBGPU_RUNS 2 webgpu
#	ORT CPU, 2 threads: node ort_bench.mjs ONNX 20 2 cpu
#
# From the repository root, with onnxruntime-node installed outside it
# (npm install --ignore-scripts onnxruntime-node in some folder) and the
# ResNet-50 export of `make_onnx.py --big`:
#
#	testdata/onnx/ort_webgpu.sh setup
#	testdata/onnx/ort_webgpu.sh run [ROUNDS]
#
# Settings (environment): MESA25, the folder for Mesa 25 (/tmp/mesa25);
# ORT_MODULES, onnxruntime-node's node_modules (/tmp/ort/node_modules);
# BIN, our binary (built into MESA25/resnet-gpu when unset); ONNX, the
# model (testdata/onnx/big/resnet50-op13.onnx, whose weights are
# synthetic:0's); WEBGPU_RUNS, ORT WebGPU's timed passes (5: each takes
# seconds on lavapipe).
set -eu

MESA25=${MESA25:-/tmp/mesa25}
ORT_MODULES=${ORT_MODULES:-/tmp/ort/node_modules}
ONNX=${ONNX:-testdata/onnx/big/resnet50-op13.onnx}
WEBGPU_RUNS=${WEBGPU_RUNS:-5}
LIBS=$MESA25/root/usr/lib/x86_64-linux-gnu
ICD=$MESA25/lvp_icd.x86_64.json

# setup downloads mesa-vulkan-drivers and the newer libdrm it needs from
# bookworm-backports through an apt configuration of its own (the system's
# sources and package lists are left alone) and unpacks them into MESA25,
# with an ICD file that names the unpacked lavapipe by its full path.
setup() {
	apt=$MESA25/apt
	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$MESA25/debs"
	echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main" >"$apt/sources.list"
	opts="-o Dir::Etc::SourceList=$apt/sources.list -o Dir::Etc::SourceParts=/nonexistent -o Dir::State::Lists=$apt/lists -o Dir::Cache=$apt/cache"
	# shellcheck disable=SC2086 # opts is a list of options
	apt-get $opts update
	# shellcheck disable=SC2086
	(cd "$MESA25/debs" && apt-get $opts download mesa-vulkan-drivers/bookworm-backports \
		libdrm2/bookworm-backports libdrm-amdgpu1/bookworm-backports)
	for deb in "$MESA25"/debs/*.deb; do
		dpkg -x "$deb" "$MESA25/root"
	done
	sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$LIBS/libvulkan_lvp.so\"#" \
		"$MESA25/root/usr/share/vulkan/icd.d/lvp_icd.json" >"$ICD"
	LD_LIBRARY_PATH=$LIBS ldd "$LIBS/libvulkan_lvp.so" | grep "not found" && exit 1
	echo "Mesa 25 lavapipe: VK_ICD_FILENAMES=$ICD LD_LIBRARY_PATH=$LIBS"
}

# mesa25 runs its arguments with Mesa 25's lavapipe as the only Vulkan driver.
mesa25() {
	VK_ICD_FILENAMES=$ICD LD_LIBRARY_PATH=$LIBS "$@"
}

# ours prints one bench line of ours, labelled.
ours() {
	label=$1
	shift
	echo "$label: $("$@" | grep '^latency')"
}

run() {
	rounds=${1:-3}
	[ -f "$ICD" ] || { echo "no $ICD: run '$0 setup' first" >&2; exit 1; }
	if [ -z "${BIN:-}" ]; then
		BIN=$MESA25/resnet-gpu
		go build -o "$BIN" ./cmd/resnet-gpu
	fi
	unset VK_ICD_FILENAMES
	export NODE_PATH=$ORT_MODULES
	echo "node $(node --version), onnxruntime-node $(node -p 'require("onnxruntime-node/package.json").version')"
	"$BIN" devices | grep driver
	mesa25 "$BIN" devices | grep driver
	i=1
	while [ "$i" -le "$rounds" ]; do
		echo "== round $i, load average $(cut -d' ' -f1-3 /proc/loadavg)"
		ours "ours, Mesa 22.3, --weights $ONNX" "$BIN" bench --weights "$ONNX"
		ours "ours, Mesa 25, --weights $ONNX" mesa25 "$BIN" bench --weights "$ONNX"
		ours "ours, Mesa 25, --arch resnet50 --weights synthetic:0" mesa25 "$BIN" bench --arch resnet50 --weights synthetic:0
		mesa25 node testdata/onnx/ort_bench.mjs "$ONNX" "$WEBGPU_RUNS" 2 webgpu
		node testdata/onnx/ort_bench.mjs "$ONNX" 20 2 cpu
		i=$((i + 1))
	done
}

case ${1:-} in
setup) setup ;;
run) shift; run "$@" ;;
*) echo "usage: $0 setup | run [ROUNDS]" >&2; exit 2 ;;
esac
