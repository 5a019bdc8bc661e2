package stream

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func metricValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		sum := 0.0
		for _, m := range mf.GetMetric() {
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			}
		}
		return sum
	}
	t.Fatalf("no metric %s", name)
	return 0
}

func counterValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metricValue(t, reg, name)
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string) float64 {
	return metricValue(t, reg, name)
}
