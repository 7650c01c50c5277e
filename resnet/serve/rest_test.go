package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet"
)

// get fetches url and decodes its JSON body into v (when not nil),
// returning the status code.
func get(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

// post sends body to url with headers and returns the status, the body and
// the response headers.
func post(t *testing.T, url string, body []byte, header ...string) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// restResponse is the JSON of an inference response.
type restResponse struct {
	ModelName    string `json:"model_name"`
	ModelVersion string `json:"model_version"`
	ID           string `json:"id"`
	Outputs      []struct {
		Name       string            `json:"name"`
		Datatype   string            `json:"datatype"`
		Shape      []int64           `json:"shape"`
		Parameters map[string]any    `json:"parameters"`
		Data       []json.RawMessage `json:"data"`
	} `json:"outputs"`
	Error string `json:"error"`
}

// floats and strs decode an output's JSON data.
func floats(t *testing.T, data []json.RawMessage) []float32 {
	var out []float32
	for _, d := range data {
		v, err := strconv.ParseFloat(string(d), 32)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, float32(v))
	}
	return out
}

func strs(t *testing.T, data []json.RawMessage) []string {
	var out []string
	for _, d := range data {
		var s string
		if err := json.Unmarshal(d, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// jsonArray writes values as a JSON array.
func jsonArray(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// The health and metadata endpoints answer as the protocol's examples do.
func TestRESTHealthAndMetadata(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	var live, ready map[string]bool
	if c := get(t, f.url+"/v2/health/live", &live); c != 200 || !live["live"] {
		t.Errorf("live: %d %v", c, live)
	}
	if c := get(t, f.url+"/v2/health/ready", &ready); c != 200 || !ready["ready"] {
		t.Errorf("ready: %d %v", c, ready)
	}
	var server struct {
		Name, Version string
		Extensions    []string
	}
	if c := get(t, f.url+"/v2", &server); c != 200 || server.Name != "resnet-gpu" || server.Version == "" || !slices.Contains(server.Extensions, "binary_tensor_data") {
		t.Errorf("/v2: %d %+v", c, server)
	}
	for _, path := range []string{"/v2/models/tiny", "/v2/models/tiny/versions/1"} {
		var md modelMeta
		if c := get(t, f.url+path, &md); c != 200 {
			t.Fatalf("%s: %d", path, c)
		}
		if md.Name != "tiny" || md.Platform == "" || len(md.Inputs) != 2 || len(md.Outputs) != 3 ||
			!slices.Equal(md.Inputs[0].Shape, []int64{-1, 3, tinyCrop, tinyCrop}) || md.Inputs[1].Datatype != "BYTES" ||
			md.Outputs[0].Name != "logits" || !slices.Equal(md.Outputs[1].Shape, []int64{-1, 3}) || !slices.Equal(md.Outputs[2].Shape, []int64{-1, 3}) {
			t.Errorf("%s: %+v", path, md)
		}
	}
	var mr map[string]any
	if c := get(t, f.url+"/v2/models/tiny/ready", &mr); c != 200 || mr["ready"] != true {
		t.Errorf("model ready: %d %v", c, mr)
	}
	if code, b, _ := post(t, f.url+"/v2/health/live", nil); code != 405 || !strings.Contains(string(b), `"error"`) {
		t.Errorf("POST /v2/health/live: %d %s, want 405 with an error", code, b)
	}
	for _, path := range []string{"/v2/models/nope", "/v2/models/nope/ready", "/v2/models/tiny/versions/2", "/v3"} {
		var e map[string]string
		if c := get(t, f.url+path, &e); c != 404 || e["error"] == "" {
			t.Errorf("%s: %d %v, want 404 with an error", path, c, e)
		}
	}
}

// Before Warm the server is live, not ready, and refuses inference.
func TestRESTNotReady(t *testing.T) {
	m, _ := tinyModel(t)
	s, err := New([]Model{{"tiny", m}}, Options{MaxBatch: 2, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	h := s.Handler()
	for _, c := range []struct {
		method, path string
		code         int
	}{{"GET", "/v2/health/live", 200}, {"GET", "/v2/health/ready", 503}, {"GET", "/v2/models/tiny/ready", 503}, {"POST", "/predictions/tiny", 503}} {
		rec := httptestRecord(h, c.method, c.path, []byte("x"))
		if rec.Code != c.code {
			t.Errorf("%s %s before Warm: %d, want %d", c.method, c.path, rec.Code, c.code)
		}
	}
}

// FP32 tensors, JSON in and out, give Model.Forward's logits and
// probabilities exactly and Model.Classify's classes; the id comes back.
func TestRESTInferFP32(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	_, imgs := testImages(t)
	in, logits, probs, top := want(t, f.m, imgs[:3], 2)
	body := fmt.Sprintf(`{"id": "r1", "parameters": {"top": 2}, "inputs": [{"name": "input", "shape": [3, 3, %d, %d], "datatype": "FP32", "data": %s}]}`,
		tinyCrop, tinyCrop, jsonArray(flatten(in)))
	code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(body))
	var r restResponse
	if err := json.Unmarshal(b, &r); err != nil || code != 200 {
		t.Fatalf("infer: %d %s %v", code, b, err)
	}
	if r.ModelName != "tiny" || r.ID != "r1" || len(r.Outputs) != 3 {
		t.Fatalf("response %+v", r)
	}
	for i, o := range r.Outputs {
		switch o.Name {
		case "logits", "probs":
			w := map[string][][]float32{"logits": logits, "probs": probs}[o.Name]
			if got := floats(t, o.Data); o.Datatype != "FP32" || !slices.Equal(o.Shape, []int64{3, 3}) || !slices.Equal(got, flatten(w)) {
				t.Errorf("output %d %s %s %v: %v, want %v", i, o.Name, o.Datatype, o.Shape, got, flatten(w))
			}
		case "classes":
			if got := strs(t, o.Data); o.Datatype != "BYTES" || !slices.Equal(o.Shape, []int64{3, 2}) || !slices.Equal(got, classes(top)) {
				t.Errorf("classes %s %v: %q, want %q", o.Datatype, o.Shape, got, classes(top))
			}
		default:
			t.Errorf("unexpected output %q", o.Name)
		}
	}
}

// BYTES inputs of encoded images (base64 in JSON) are preprocessed with
// the model's transform; "outputs" selects and orders the outputs, and the
// classes output's classification parameter sets k.
func TestRESTInferImages(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	enc, imgs := testImages(t)
	_, _, probs, top := want(t, f.m, imgs, 1)
	var data []string
	for _, b := range enc {
		data = append(data, base64.StdEncoding.EncodeToString(b))
	}
	d, _ := json.Marshal(data)
	body := fmt.Sprintf(`{"inputs": [{"name": "image", "shape": [4], "datatype": "BYTES", "data": %s}],
		"outputs": [{"name": "classes", "parameters": {"classification": 1}}, {"name": "probs"}]}`, d)
	code, b, _ := post(t, f.url+"/v2/models/tiny/infer", []byte(body))
	var r restResponse
	if err := json.Unmarshal(b, &r); err != nil || code != 200 {
		t.Fatalf("infer: %d %s %v", code, b, err)
	}
	if len(r.Outputs) != 2 || r.Outputs[0].Name != "classes" || r.Outputs[1].Name != "probs" {
		t.Fatalf("outputs %+v, want classes then probs", r.Outputs)
	}
	if got := strs(t, r.Outputs[0].Data); !slices.Equal(got, classes(top)) || !slices.Equal(r.Outputs[0].Shape, []int64{4, 1}) {
		t.Errorf("classes %v: %q, want %q", r.Outputs[0].Shape, got, classes(top))
	}
	if got := floats(t, r.Outputs[1].Data); !slices.Equal(got, flatten(probs)) {
		t.Errorf("probs %v, want %v", got, flatten(probs))
	}
}

// The binary tensor data extension: an FP32 input after the JSON header,
// and binary outputs (one asked for per output, all by the request's
// binary_data_output) after the response's JSON.
func TestRESTBinary(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4})
	_, imgs := testImages(t)
	in, logits, _, top := want(t, f.m, imgs[1:3], 3)
	var raw []byte
	for _, v := range flatten(in) {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	for _, all := range []bool{false, true} {
		head := fmt.Sprintf(`{"parameters": {"binary_data_output": %v}, "inputs": [{"name": "input", "shape": [2, 3, %d, %d], "datatype": "FP32", "parameters": {"binary_data_size": %d}}],
			"outputs": [{"name": "logits", "parameters": {"binary_data": true}}, {"name": "classes"}]}`, all, tinyCrop, tinyCrop, len(raw))
		code, b, h := post(t, f.url+"/v2/models/tiny/infer", append([]byte(head), raw...),
			"Content-Type", "application/octet-stream", headerLength, strconv.Itoa(len(head)))
		n, err := strconv.Atoi(h.Get(headerLength))
		if code != 200 || err != nil || n > len(b) {
			t.Fatalf("binary infer: %d %q %s", code, h.Get(headerLength), b)
		}
		var r restResponse
		if err := json.Unmarshal(b[:n], &r); err != nil {
			t.Fatal(err)
		}
		bin := b[n:]
		if len(r.Outputs) != 2 || r.Outputs[0].Parameters["binary_data_size"] != float64(4*2*3) || r.Outputs[0].Data != nil {
			t.Fatalf("outputs %+v", r.Outputs)
		}
		var got []float32
		for i := 0; i < 24; i += 4 {
			got = append(got, math.Float32frombits(binary.LittleEndian.Uint32(bin[i:])))
		}
		if !slices.Equal(got, flatten(logits)) {
			t.Errorf("binary logits %v, want %v", got, flatten(logits))
		}
		bin = bin[24:]
		var cls []string
		if all {
			for len(bin) >= 4 {
				l := binary.LittleEndian.Uint32(bin)
				cls, bin = append(cls, string(bin[4:4+l])), bin[4+l:]
			}
		} else {
			cls = strs(t, r.Outputs[1].Data)
		}
		if !slices.Equal(cls, classes(top)) {
			t.Errorf("binary_data_output %v: classes %q, want %q", all, cls, classes(top))
		}
	}
}

// POST /predictions/{m} with an image body gives Classify's top k.
func TestPredictions(t *testing.T) {
	f := newFixture(t, Options{MaxBatch: 4, Top: 2})
	enc, imgs := testImages(t)
	_, _, _, top := want(t, f.m, imgs[3:], 2)
	code, b, _ := post(t, f.url+"/predictions/tiny", enc[3], "Content-Type", "image/jpeg")
	var got []resnet.Prediction
	if err := json.Unmarshal(b, &got); err != nil || code != 200 {
		t.Fatalf("predictions: %d %s %v", code, b, err)
	}
	if !slices.Equal(got, top[0]) {
		t.Errorf("predictions %+v, want %+v", got, top[0])
	}
	code, b, _ = post(t, f.url+"/predictions/tiny?top=1", enc[3])
	if err := json.Unmarshal(b, &got); err != nil || code != 200 || len(got) != 1 || got[0] != top[0][0] {
		t.Errorf("top=1: %d %s", code, b)
	}
	if code, b, _ := post(t, f.url+"/predictions/tiny", []byte("not an image")); code != 400 || !strings.Contains(string(b), `"error"`) {
		t.Errorf("a body that is no image: %d %s, want 400 with an error", code, b)
	}
}
