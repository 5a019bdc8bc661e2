package curves

import (
	"context"
	"errors"
	"io"

	"github.com/databoard/databoard/daqbuf"
	"github.com/databoard/databoard/daqbuf/curve"
)

var (
	_ curve.Source = Direct{}
	_ curve.Source = (*Curves)(nil)
	_ curve.Source = freshTail{}
)

// Direct is the curve source without a cache: every request goes to data-api, read frame by frame.
type Direct struct {
	Client *daqbuf.Client
}

// Bins reads all bins of q. The status is always curve.StatusMiss.
func (d Direct) Bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, curve.Status, error) {
	b, err := d.bins(ctx, q)
	return b, curve.StatusMiss, err
}

// Events reads all events of q. The status is always curve.StatusMiss.
func (d Direct) Events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, curve.Status, error) {
	e, err := d.events(ctx, q)
	return e, curve.StatusMiss, err
}

func (d Direct) bins(ctx context.Context, q daqbuf.BinnedQuery) ([]*daqbuf.BinBatch, error) {
	st, err := d.Client.Binned(ctx, q)
	if err != nil {
		return nil, err
	}
	return drain(st)
}

func (d Direct) events(ctx context.Context, q daqbuf.EventsQuery) ([]*daqbuf.EventBatch, error) {
	st, err := d.Client.Events(ctx, q)
	if err != nil {
		return nil, err
	}
	return drain(st)
}

// batchStream is what daqbuf's event and bin streams have in common.
type batchStream[T any] interface {
	Next() (T, error)
	Close() error
}

// drain reads every batch of st until its end and closes it.
func drain[T any](st batchStream[T]) ([]T, error) {
	defer st.Close()
	var out []T
	for {
		b, err := st.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
}
