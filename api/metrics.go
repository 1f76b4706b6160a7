package api

import (
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
	signatures *prometheus.CounterVec
	keyErrors  *prometheus.CounterVec
}

func newMetrics(keys []string) *metrics {
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
		signatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyso_signatures_total",
			Help: "Signatures made, by server-side key.",
		}, []string{"key"}),
		keyErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kyso_key_provider_errors_total",
			Help: "Key provider failures (signing or readiness), by server-side key.",
		}, []string{"key"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.inFlight, m.signatures, m.keyErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Series for every configured key exist from the start at 0, so that a rate() or an
	// alert on them works before the first signature or failure.
	for _, k := range keys {
		m.signatures.WithLabelValues(k)
		m.keyErrors.WithLabelValues(k)
	}
	return m
}
