package serve

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"testing"
)

// /metrics counts requests by model, protocol and code, and has the
// latency, batch-size, queue-depth and in-flight series.
func TestMetrics(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 2})
	enc, _ := testImages(t)
	ok := fmt.Sprintf(`{"inputs": [{"name": "image", "datatype": "BYTES", "shape": [1], "data": [%q]}]}`, base64.StdEncoding.EncodeToString(enc[1]))
	for _, body := range []string{ok, ok, `{"inputs": 7}`} {
		post(t, f.url+"/v2/models/tiny/infer", []byte(body))
	}
	post(t, f.url+"/predictions/nope", enc[1])
	resp, err := http.Get(f.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`resnet_serve_requests_total{code="200",model="tiny",protocol="rest"} 2`,
		`resnet_serve_requests_total{code="400",model="tiny",protocol="rest"} 1`,
		`resnet_serve_requests_total{code="404",model="",protocol="predictions"} 1`,
		`resnet_serve_request_seconds_count{model="tiny",protocol="rest"} 2`,
		`resnet_serve_queue_seconds_count{model="tiny"} 2`,
		`resnet_serve_preprocess_seconds_count{model="tiny"} 2`,
		`resnet_serve_gpu_seconds_count{model="tiny"} 2`,
		`resnet_serve_batch_size_sum{model="tiny"} 2`,
		`resnet_serve_queue_depth{model="tiny"} 0`,
		`resnet_serve_inflight_requests{model="tiny"} 0`,
		`resnet_serve_ready 1`,
	} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).Match(b) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}
