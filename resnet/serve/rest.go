package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"google.golang.org/grpc/codes"
)

// headerLength is the binary tensor data extension's header: the length of
// the JSON part of a body that binary tensor data follows.
const headerLength = "Inference-Header-Content-Length"

// Handler returns the REST API and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, r *http.Request) {
		ready := s.Ready()
		writeJSON(w, readyCode(ready), map[string]bool{"ready": ready})
	})
	mux.HandleFunc("GET /v2", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"name": platform, "version": Version, "extensions": extensions})
	})
	meta := func(w http.ResponseWriter, r *http.Request) {
		if v := r.PathValue("v"); v != "" && v != Version {
			writeError(w, notFound(r.PathValue("m")+" version "+v))
			return
		}
		md, err := s.metadata(r.PathValue("m"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, md)
	}
	ready := func(w http.ResponseWriter, r *http.Request) {
		ok, err := s.modelReady(r.PathValue("m"), r.PathValue("v"))
		if err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, readyCode(ok), map[string]any{"name": r.PathValue("m"), "ready": ok})
	}
	mux.HandleFunc("GET /v2/models/{m}", meta)
	mux.HandleFunc("GET /v2/models/{m}/versions/{v}", meta)
	mux.HandleFunc("GET /v2/models/{m}/ready", ready)
	mux.HandleFunc("GET /v2/models/{m}/versions/{v}/ready", ready)
	mux.HandleFunc("POST /v2/models/{m}/infer", s.restInfer)
	mux.HandleFunc("POST /v2/models/{m}/versions/{v}/infer", s.restInfer)
	mux.HandleFunc("POST /predictions/{m}", s.predictions)
	mux.Handle("GET /metrics", s.metrics.handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			writeError(w, unrouted(mux, r))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// unrouted returns the error of a request no endpoint takes: 405 when the
// path has an endpoint for another method, else 404.
func unrouted(mux *http.ServeMux, r *http.Request) error {
	for _, m := range []string{"GET", "POST"} {
		other := r.Clone(r.Context())
		other.Method = m
		if _, pattern := mux.Handler(other); pattern != "" {
			return errorf(http.StatusMethodNotAllowed, codes.Unimplemented, "%s %s: want %s", r.Method, r.URL.Path, m)
		}
	}
	return errorf(http.StatusNotFound, codes.NotFound, "no endpoint %s %s", r.Method, r.URL.Path)
}

func readyCode(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// writeError answers the protocol's error form, {"error": "…"}.
func writeError(w http.ResponseWriter, err error) {
	e := classify(err)
	writeJSON(w, e.http, map[string]string{"error": e.msg})
}

// count records a finished request's metrics.
func (s *Server) count(model, protocol string, start time.Time, err error) {
	code := http.StatusOK
	if err != nil {
		code = classify(err).http
		if s.models[model] == nil {
			model = "" // not a label per unknown name a client sends
		}
	}
	if code >= 500 && code != http.StatusServiceUnavailable {
		s.opt.Logger.Warn("request failed", "model", model, "protocol", protocol, "code", code, "err", err)
	}
	s.metrics.requests.WithLabelValues(model, protocol, strconv.Itoa(code)).Inc()
	if err == nil {
		s.metrics.total.WithLabelValues(model, protocol).Observe(time.Since(start).Seconds())
	}
}

// bodyGrace is how long a request body may take beyond what
// Options.MinBodyRate allows.
const bodyGrace = 3 * time.Second

// readBody reads a request body of at most Options.MaxBody bytes, at
// Options.MinBodyRate or faster (after bodyGrace), and within the server's
// read timeout: a slow uploader gets 408, and its connection is closed,
// instead of holding its queue slot until the read timeout. The
// connection's read deadline is cleared once the body is in (it bounded
// reading the request only).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > s.opt.MaxBody {
		return nil, errTooLarge
	}
	rc := http.NewResponseController(w)
	br := &rateReader{r: http.MaxBytesReader(w, r.Body, s.opt.MaxBody), rc: rc, rate: s.opt.MinBodyRate, start: time.Now()}
	body, err := io.ReadAll(br)
	var big *http.MaxBytesError
	switch {
	case err == nil && br.set:
		rc.SetReadDeadline(time.Time{})
	case errors.As(err, &big):
		return nil, errTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close") // else the server reads on, to reuse the connection
		return nil, errorf(http.StatusRequestTimeout, codes.DeadlineExceeded, "the request body came too slowly: %d bytes in %v, want %d bytes/s", br.n, time.Since(br.start).Round(time.Millisecond), s.opt.MinBodyRate)
	case err != nil:
		return nil, badRequest("reading the body: %v", err)
	}
	return body, nil
}

// rateReader reads r with a connection read deadline that moves on as
// bytes arrive: by the time d has passed since start, bodyGrace plus d ×
// rate bytes must have come, and all of them by readTimeout.
type rateReader struct {
	r     io.Reader
	rc    *http.ResponseController
	rate  int64 // bytes per second
	start time.Time
	n     int64 // bytes read
	set   bool  // a deadline was set
}

func (b *rateReader) Read(p []byte) (int, error) {
	due := b.start.Add(min(bodyGrace+time.Duration(float64(b.n)/float64(b.rate)*float64(time.Second)), readTimeout))
	if b.rc.SetReadDeadline(due) == nil { // else a connection without deadlines (ReadTimeout still bounds it)
		b.set = true
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	return n, err
}

// admitBody admits a request to b's queue, then reads its body (so that
// the queue bound also bounds the bodies held); release frees the slot.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request, b *batcher) (body []byte, release func(), err error) {
	if release, err = s.admit(b); err != nil {
		return nil, nil, err
	}
	if body, err = s.readBody(w, r); err != nil {
		release()
		return nil, nil, err
	}
	return body, release, nil
}

// headerTimeout sets req's deadline from the Timeout header (µs, as
// Triton's) unless the request's parameters set one.
func headerTimeout(r *http.Request, req *request) (err error) {
	if t := r.Header.Get("Timeout"); t != "" && req.timeout == 0 {
		req.timeout, err = parseTimeout(t)
	}
	return err
}

// restInfer answers POST /v2/models/{m}/infer.
func (s *Server) restInfer(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	model := r.PathValue("m")
	resp, err := func() (*response, error) {
		b := s.models[model]
		switch v := r.PathValue("v"); {
		case b == nil:
			return nil, notFound(model)
		case v != "" && v != Version:
			return nil, notFound(model + " version " + v)
		}
		body, release, err := s.admitBody(w, r, b)
		if err != nil {
			return nil, err
		}
		defer release()
		req, err := decodeREST(body, r.Header.Get(headerLength))
		if err != nil {
			return nil, err
		}
		req.model = model
		if err := headerTimeout(r, req); err != nil {
			return nil, err
		}
		return s.run(r.Context(), b, req)
	}()
	s.count(model, "rest", start, err)
	if err != nil {
		if r.Context().Err() == nil || !errors.Is(err, r.Context().Err()) {
			writeError(w, err)
		}
		s.opt.Logger.Debug("infer failed", "model", model, "protocol", "rest", "err", err)
		return
	}
	writeREST(w, resp)
}

// predictions answers POST /predictions/{m}: an encoded image in the body,
// its top classes (?top=K) as a JSON list of index, label and prob.
func (s *Server) predictions(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	model := r.PathValue("m")
	top, err := func() (any, error) {
		b := s.models[model]
		if b == nil {
			return nil, notFound(model)
		}
		k := s.opt.Top
		if q := r.URL.Query().Get("top"); q != "" {
			var err error
			if k, err = strconv.Atoi(q); err != nil || k < 1 {
				return nil, badRequest("top %q: want a positive number", q)
			}
		}
		body, release, err := s.admitBody(w, r, b)
		if err != nil {
			return nil, err
		}
		defer release()
		req := &request{model: model, input: tensor{name: "image", datatype: bytesType, shape: []int64{1}, bytes: [][]byte{body}},
			outputs: []wanted{{name: outProbs}}}
		if err := headerTimeout(r, req); err != nil {
			return nil, err
		}
		resp, err := s.run(r.Context(), b, req)
		if err != nil {
			return nil, err
		}
		return b.m.TopK(resp.outputs[0].f32, k), nil
	}()
	s.count(model, "predictions", start, err)
	if err != nil {
		if r.Context().Err() == nil {
			writeError(w, err)
		}
		return
	}
	writeJSON(w, http.StatusOK, top)
}

// restRequest is the JSON of an inference request.
type restRequest struct {
	ID         string         `json:"id"`
	Parameters map[string]any `json:"parameters"`
	Inputs     []struct {
		Name       string          `json:"name"`
		Datatype   string          `json:"datatype"`
		Shape      []int64         `json:"shape"`
		Parameters map[string]any  `json:"parameters"`
		Data       json.RawMessage `json:"data"`
	} `json:"inputs"`
	Outputs []struct {
		Name       string         `json:"name"`
		Parameters map[string]any `json:"parameters"`
	} `json:"outputs"`
}

// decodeREST decodes a JSON request body, or, when headerLen is set, one
// whose JSON part binary tensor data follows.
func decodeREST(body []byte, headerLen string) (*request, error) {
	var bin []byte
	if headerLen != "" {
		n, err := strconv.Atoi(headerLen)
		if err != nil || n < 0 || n > len(body) {
			return nil, badRequest("%s %q: want the JSON part's length, at most the body's %d bytes", headerLength, headerLen, len(body))
		}
		body, bin = body[:n], body[n:]
	}
	var rr restRequest
	if err := json.Unmarshal(body, &rr); err != nil {
		return nil, badRequest("malformed JSON request: %v", err)
	}
	if len(rr.Inputs) != 1 {
		return nil, badRequest("%d inputs: want one (FP32 [N,3,H,W] or BYTES [N])", len(rr.Inputs))
	}
	req := &request{id: rr.ID}
	var err error
	if req.top, err = intParam(rr.Parameters, "top"); err != nil {
		return nil, err
	}
	if req.binary, err = boolParam(rr.Parameters, "binary_data_output"); err != nil {
		return nil, err
	}
	us, err := intParam(rr.Parameters, "timeout")
	if err != nil {
		return nil, err
	}
	req.timeout = time.Duration(us) * time.Microsecond
	in := rr.Inputs[0]
	t := tensor{name: in.Name, datatype: in.Datatype, shape: in.Shape}
	size, err := intParam(in.Parameters, "binary_data_size")
	if err != nil {
		return nil, err
	}
	n, err := numel(t.shape, 1<<31)
	if err != nil {
		return nil, err
	}
	switch {
	case size > 0 || in.Data == nil && bin != nil:
		if size != len(bin) {
			return nil, badRequest("input %q: binary_data_size %d, but %d bytes of binary data follow the JSON", in.Name, size, len(bin))
		}
		err = t.decodeRaw(bin, n)
	case t.datatype == fp32:
		t.f32, err = parseFloats(in.Data, n)
	case t.datatype == bytesType:
		t.bytes, err = parseBase64(in.Data, n)
	}
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", in.Name, err)
	}
	req.input = t
	for _, o := range rr.Outputs {
		w := wanted{name: o.Name}
		if w.top, err = intParam(o.Parameters, "classification"); err != nil {
			return nil, err
		}
		if w.binary, err = boolParam(o.Parameters, "binary_data"); err != nil {
			return nil, err
		}
		req.outputs = append(req.outputs, w)
	}
	return req, nil
}

// intParam returns an integer parameter (0 when absent).
func intParam(p map[string]any, key string) (int, error) {
	v, ok := p[key]
	if !ok {
		return 0, nil
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) || f < 0 || f > 1<<40 {
		return 0, badRequest("parameter %q: %v: want a non-negative integer", key, v)
	}
	return int(f), nil
}

// boolParam returns a boolean parameter (false when absent).
func boolParam(p map[string]any, key string) (bool, error) {
	v, ok := p[key]
	if !ok {
		return false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, badRequest("parameter %q: %v: want true or false", key, v)
	}
	return b, nil
}

// restOutput is the JSON of an output tensor.
type restOutput struct {
	Name       string          `json:"name"`
	Datatype   string          `json:"datatype"`
	Shape      []int64         `json:"shape"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// writeREST answers an inference response: JSON, followed by the binary
// data of the outputs asked for in the binary form.
func writeREST(w http.ResponseWriter, resp *response) {
	out := struct {
		ModelName    string       `json:"model_name"`
		ModelVersion string       `json:"model_version"`
		ID           string       `json:"id,omitempty"`
		Outputs      []restOutput `json:"outputs"`
	}{ModelName: resp.model, ModelVersion: Version, ID: resp.id}
	var bin []byte
	for _, t := range resp.outputs {
		o := restOutput{Name: t.name, Datatype: t.datatype, Shape: t.shape}
		if t.binary {
			raw := t.encodeRaw()
			o.Parameters = map[string]any{"binary_data_size": len(raw)}
			bin = append(bin, raw...)
		} else {
			o.Data = t.encodeJSON()
		}
		out.Outputs = append(out.Outputs, o)
	}
	head, err := json.Marshal(out)
	if err != nil {
		writeError(w, err)
		return
	}
	if bin == nil {
		w.Header().Set("Content-Type", "application/json")
		w.Write(head)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerLength, strconv.Itoa(len(head)))
	w.Write(append(head, bin...))
}
