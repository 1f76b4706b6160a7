package api

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics live in a registry of the server's own, so two servers in one process (tests,
// or an admin listener later) never collide on the global registry.
type metrics struct {
	registry   *prometheus.Registry
	requests   *prometheus.CounterVec
	latency    *prometheus.HistogramVec
	inFlight   prometheus.Gauge
	signatures keyCounter
	keyErrors  keyCounter
	keyChecks  prometheus.Counter
}

// keyCounter is a counter by signing key whose label is the key's name only when
// the operator says /metrics may show names (metrics.key_names, or a token); else
// key-1, key-2, … in the configuration's order, since /metrics is otherwise
// anonymous and the API hides key names from clients not granted them.
type keyCounter struct {
	*prometheus.CounterVec
	label map[string]string
}

// WithLabelValues is the counter of the key named name.
func (k keyCounter) WithLabelValues(name string) prometheus.Counter {
	l, ok := k.label[name]
	if !ok {
		l = "other"
	}
	return k.CounterVec.WithLabelValues(l)
}

func newMetrics(keys []string, keyNames bool) *metrics {
	label := make(map[string]string, len(keys))
	for i, k := range keys {
		label[k] = k
		if !keyNames {
			label[k] = fmt.Sprintf("key-%d", i+1)
		}
	}
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyso_http_requests_total",
			Help: "HTTP requests by route template, method and status.",
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "kyso_http_request_duration_seconds",
			Help: "HTTP request latency by route template and method.",
			// Signing with an HSM takes milliseconds; a TSA or a large upload seconds.
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"route", "method"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kyso_http_requests_in_flight",
			Help: "HTTP requests being served.",
		}),
		signatures: keyCounter{prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyso_signatures_total",
			Help: "Signatures made, by server-side key.",
		}, []string{"key"}), label},
		keyErrors: keyCounter{prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyso_key_provider_errors_total",
			Help: "Key provider failures (signing or readiness), by server-side key.",
		}, []string{"key"}), label},
		keyChecks: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kyso_key_readiness_checks_total",
			Help: "Readiness probe signatures made with the server-side keys (at most one per key per server.ready_interval).",
		}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.inFlight, m.signatures, m.keyErrors, m.keyChecks,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series for every configured key exist from the start at 0, so that a rate() or an
	// alert on them works before the first signature or failure.
	for _, k := range keys {
		m.signatures.WithLabelValues(k)
		m.keyErrors.WithLabelValues(k)
	}
	return m
}
