#!/usr/bin/env bash
# serve-bench: load-tests `resnet-gpu serve` with real external clients —
# hey (REST, the binary tensor data extension), ghz (gRPC ModelInfer) —
# for each --max-batch and number of concurrent clients, then checks that
# every answer equals the single-request answer (curl and grpcurl, the same
# concurrency). Prints one Markdown table row per run for BENCHMARKS.md.
#
#	benchmarks/serve-bench.sh                      # defaults below
#	BATCHES="1 8" CLIENTS="1 8 32" REQUESTS=200 benchmarks/serve-bench.sh
#
# The clients are installed at fixed versions into $(go env GOPATH)/bin
# when missing. The server is bin/resnet-gpu (make build).
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=${ARCH:-resnet18}
WEIGHTS=${WEIGHTS:-synthetic:0}
IMAGE=${IMAGE:-testdata/images/chelsea.png}
BATCHES=${BATCHES:-"1 8 32"}
CLIENTS=${CLIENTS:-"1 8 32"}
REQUESTS=${REQUESTS:-200}
DELAY=${DELAY:-2000} # --max-delay, µs
HTTP=${HTTP:-127.0.0.1:18000}
GRPC=${GRPC:-127.0.0.1:18001}
BIN=${BIN:-bin/resnet-gpu}

gobin="$(go env GOPATH)/bin"
export PATH="$gobin:$PATH"
for tool in github.com/rakyll/hey@v0.1.4 github.com/bojand/ghz/cmd/ghz@v0.120.0 github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3; do
	name=${tool%@*}
	name=${name##*/}
	command -v "$name" >/dev/null || go install "$tool"
done
[ -x "$BIN" ] || make build >/dev/null

work=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT

# The REST body: the binary tensor data extension, one BYTES element (a
# 4-byte little-endian length, then the encoded image) after the JSON
# header; the answer asks for the classes output as JSON only.
size=$(stat -c %s "$IMAGE")
header="{\"inputs\":[{\"name\":\"image\",\"shape\":[1],\"datatype\":\"BYTES\",\"parameters\":{\"binary_data_size\":$((size + 4))}}],\"outputs\":[{\"name\":\"classes\"}]}"
{
	printf '%s' "$header"
	printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((size & 255)) $((size >> 8 & 255)) $((size >> 16 & 255)) $((size >> 24 & 255)))"
	cat "$IMAGE"
} >"$work/body"
# The gRPC request, in protobuf's JSON form: the image as raw_input_contents.
raw=$(
	{
		printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x' $((size & 255)) $((size >> 8 & 255)) $((size >> 16 & 255)) $((size >> 24 & 255)))"
		cat "$IMAGE"
	} | base64 -w0
)
printf '{"model_name":"m","inputs":[{"name":"image","datatype":"BYTES","shape":[1]}],"outputs":[{"name":"classes"}],"raw_input_contents":["%s"]}' "$raw" >"$work/grpc.json"

rest() {
	curl -sS --fail-with-body -H "Inference-Header-Content-Length: ${#header}" -H 'Content-Type: application/octet-stream' \
		--data-binary @"$work/body" "http://$HTTP/v2/models/m/infer"
}
grpc() {
	grpcurl -plaintext -d @ "$GRPC" inference.GRPCInferenceService/ModelInfer <"$work/grpc.json"
}
# answer keeps what must not vary between requests: the outputs (and
# gRPC's raw_output_contents), on one line.
answer() { tr -d ' \n' | grep -o '"outputs".*'; }
export -f rest grpc answer
export HTTP GRPC work header

# rows prints a CSV file's data rows: no header, no blank lines.
rows() { grep -v '^$' "$1" | tail -n +2; }

# percentile P of the numbers (ms) on stdin.
percentile() { sort -n | awk -v p="$1" '{v[NR]=$1} END {i=int((NR-1)*p/100)+1; printf "%.0f", v[i]}'; }

echo "| protocol | max-batch | clients | requests | img/s | p50 ms | p99 ms | errors | mismatches |"
echo "|---|---|---|---|---|---|---|---|---|"
for batch in $BATCHES; do
	"$BIN" serve --arch "$ARCH" --model "m=$WEIGHTS" --http "$HTTP" --grpc "$GRPC" \
		--max-batch "$batch" --max-delay "$DELAY" --queue 1024 >"$work/server.log" 2>&1 &
	server=$!
	for _ in $(seq 600); do
		curl -sf "http://$HTTP/v2/health/ready" >/dev/null 2>&1 && break
		kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
		sleep 1
	done
	want_rest=$(rest | answer)
	want_grpc=$(grpc | answer)
	[ -n "$want_rest" ] && [ -n "$want_grpc" ] || { echo "no answer from the server" >&2; exit 1; }
	for c in $CLIENTS; do
		# REST under hey: per-request latencies and statuses from its CSV.
		start=$(date +%s.%N)
		hey -n "$REQUESTS" -c "$c" -m POST -T application/octet-stream -H "Inference-Header-Content-Length: ${#header}" \
			-D "$work/body" -o csv "http://$HTTP/v2/models/m/infer" >"$work/hey.csv"
		end=$(date +%s.%N)
		rows "$work/hey.csv" | awk -F, '{print $1 * 1000}' >"$work/lat"
		errors=$(rows "$work/hey.csv" | awk -F, '$7 != 200' | wc -l)
		n=$(wc -l <"$work/lat")
		same=$(seq "$REQUESTS" | xargs -P "$c" -I{} bash -c 'rest | answer' | grep -cxF "$want_rest" || true)
		mism=$((REQUESTS - same)) # answers that differ or never came
		echo "| REST (hey) | $batch | $c | $n | $(echo "$n / ($end - $start)" | bc -l | xargs printf %.1f) | $(percentile 50 <"$work/lat") | $(percentile 99 <"$work/lat") | $errors | $mism |"

		# gRPC under ghz (reflection), per-request rows from its CSV.
		start=$(date +%s.%N)
		ghz --insecure --call inference.GRPCInferenceService/ModelInfer -D "$work/grpc.json" \
			-n "$REQUESTS" -c "$c" -O csv "$GRPC" >"$work/ghz.csv"
		end=$(date +%s.%N)
		rows "$work/ghz.csv" | awk -F, '{print $1}' >"$work/lat"
		errors=$(rows "$work/ghz.csv" | awk -F, '$2 != "OK"' | wc -l)
		n=$(wc -l <"$work/lat")
		same=$(seq "$REQUESTS" | xargs -P "$c" -I{} bash -c 'grpc | answer' | grep -cxF "$want_grpc" || true)
		mism=$((REQUESTS - same))
		echo "| gRPC (ghz) | $batch | $c | $n | $(echo "$n / ($end - $start)" | bc -l | xargs printf %.1f) | $(percentile 50 <"$work/lat") | $(percentile 99 <"$work/lat") | $errors | $mism |"
	done
	kill -TERM "$server"
	wait "$server" || { echo "serve exited $? after SIGTERM" >&2; exit 1; }
	server=
done
