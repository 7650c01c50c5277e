package serve

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are a server's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg            *prometheus.Registry
	requests       *prometheus.CounterVec   // by model, protocol and code
	total          *prometheus.HistogramVec // request latency by model and protocol
	queueTime      *prometheus.HistogramVec
	preprocessTime *prometheus.HistogramVec
	gpuTime        *prometheus.HistogramVec
	batchSize      *prometheus.HistogramVec
	queueDepth     *prometheus.GaugeVec
	inflight       *prometheus.GaugeVec
}

// latency buckets: 100µs to about 26s.
var latency = prometheus.ExponentialBuckets(1e-4, 2, 19)

func newMetrics(s *Server) *metrics {
	const ns = "resnet_serve"
	model := []string{"model"}
	hist := func(name, help string, labels []string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: name, Help: help, Buckets: buckets}, labels)
	}
	var sizes []float64
	for b := 1; b <= 1024; b *= 2 {
		sizes = append(sizes, float64(b))
	}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "requests_total",
			Help: "Inference requests answered, by model, protocol (rest, grpc, predictions) and status code."}, []string{"model", "protocol", "code"}),
		total:          hist("request_seconds", "Inference request latency, from decoded request to results.", []string{"model", "protocol"}, latency),
		queueTime:      hist("queue_seconds", "Time a request waited in its model's queue for a batch.", model, latency),
		preprocessTime: hist("preprocess_seconds", "Time decoding and preprocessing a request's images.", model, latency),
		gpuTime:        hist("gpu_seconds", "Time of one batch's forward pass on the device.", model, latency),
		batchSize:      hist("batch_size", "Images per forward pass (before padding to a compiled size).", model, sizes),
		queueDepth: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Requests waiting in a model's queue."}, model),
		inflight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "inflight_requests",
			Help: "Requests admitted and not yet answered."}, model),
	}
	ready := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: ns, Name: "ready", Help: "1 when the server accepts inference requests."},
		func() float64 {
			if s.Ready() {
				return 1
			}
			return 0
		})
	m.reg.MustRegister(m.requests, m.total, m.queueTime, m.preprocessTime, m.gpuTime, m.batchSize, m.queueDepth, m.inflight, ready,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves the metrics in Prometheus' text format.
func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
