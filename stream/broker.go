package stream

import (
	"context"
	"time"

	"github.com/databoard/databoard/daqbuf/curve"
)

// broker coordinates series streams across instances. Two implementations: inProcess (no Redis: this
// instance polls every series it has) and redisBroker (one poller per series in the deployment,
// updates fanned out to every instance with subscribers, shared history).
type broker interface {
	// join gives a new series the shared state (curve, epoch, offset, history) when there is one, and
	// starts delivering other instances' updates to it.
	join(ctx context.Context, s *series)
	// leave stops that, and gives up the series' poller lease.
	leave(s *series)
	// lead says whether this instance polls s now, taking or renewing its poller lease.
	lead(ctx context.Context, s *series) bool
	// checkEvery is how often lead must be asked (lease renewal, takeover of a dead holder's series).
	checkEvery() time.Duration
	// publish hands an update this instance made (already committed here) to the other instances.
	publish(ctx context.Context, s *series, u *update, doc *curve.Doc)
	// publishEvent hands them an error or the series' completion.
	publishEvent(s *series, ev event)
}

// inProcess is the broker of a single instance: it polls everything itself.
type inProcess struct{ pollMax time.Duration }

func (inProcess) join(context.Context, *series)                         {}
func (inProcess) leave(*series)                                         {}
func (inProcess) lead(context.Context, *series) bool                    { return true }
func (b inProcess) checkEvery() time.Duration                           { return b.pollMax }
func (inProcess) publish(context.Context, *series, *update, *curve.Doc) {}
func (inProcess) publishEvent(*series, event)                           {}
