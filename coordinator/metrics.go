package coordinator

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the coordinator's Prometheus series.
type metrics struct {
	collections  *prometheus.CounterVec   // by kind and outcome
	rounds       prometheus.Counter       // training rounds completed
	stepSeconds  *prometheus.HistogramVec // by collection kind and secure-aggregation step
	dropouts     *prometheus.CounterVec   // by collection kind
	bytesIn      *prometheus.CounterVec   // by message kind
	bytesOut     *prometheus.CounterVec
	refused      *prometheus.CounterVec // requests and messages refused, by reason
	jobs         *prometheus.GaugeVec   // by state
	participants prometheus.Gauge       // connected
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		collections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_collections_total", Help: "Collections (rounds of one kind) closed, by kind and outcome.",
		}, []string{"kind", "outcome"}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedscore_training_rounds_total", Help: "Training rounds completed across all jobs.",
		}),
		stepSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "fedscore_phase_duration_seconds", Help: "Duration of each protocol step of a collection (step is plain, advertise, share, mask or unmask).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 18),
		}, []string{"kind", "step"}),
		dropouts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_dropouts_total", Help: "Participants selected for a collection that did not contribute.",
		}, []string{"kind"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_bytes_received_total", Help: "Payload bytes received from participants (contributions and secure-aggregation messages).",
		}, []string{"step"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_bytes_sent_total", Help: "Payload bytes sent to participants (parameters, plans and secure-aggregation messages).",
		}, []string{"step"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedscore_refused_total", Help: "Requests and messages refused, by reason.",
		}, []string{"reason"}),
		jobs: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedscore_jobs", Help: "Jobs by state.",
		}, []string{"state"}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fedscore_participants_connected", Help: "Participants with an open stream.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.collections, m.rounds, m.stepSeconds, m.dropouts, m.bytesIn, m.bytesOut, m.refused, m.jobs, m.participants)
	}
	return m
}

// MetricsFor returns one of the coordinator's unlabelled series by name,
// for tests.
func (co *Coordinator) MetricsFor(name string) prometheus.Collector {
	switch name {
	case "fedscore_training_rounds_total":
		return co.metrics.rounds
	case "fedscore_participants_connected":
		return co.metrics.participants
	}
	return nil
}
