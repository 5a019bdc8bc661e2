// Package sim is a deterministic, in-process stand-in for PSI's data-api v4 ("daqbuf"), served as an
// http.Handler under /api/4 and specified by docs/daqbuf.md.
//
// It owns: a fixed catalogue of synthetic channels of every scalar type (plus optional generated f64
// channels for search load), event generation by index arithmetic (data is a pure function of
// backend, channel and time, and only exists before the configured clock's now), the data-api bin
// grid and time-weighted binning, every response mode (plain JSON, json-framed, cbor-framed) with
// data-api's exact framing, data-api's error codes and bodies, a request log, and fault injection.
// Sim.Events and Sim.Bins expose the ground truth the HTTP answers are built from.
//
// Choices where the specification leaves data-api's behaviour open:
//   - bins after a known value that contain no events are emitted with count 0 and
//     min = max = avg = the carried value (the older servers' and cache path's behaviour);
//   - a NaN value poisons the time-weighted average of every bin it is active in (avg NaN, null in
//     JSON), while min and max skip NaN values;
//   - when both channelName and seriesId are given, seriesId wins;
//   - channels have data from DataStart (2000-01-01) on, so ranges straddling it show the
//     "bins before the first known value are not emitted" rule.
//
// It must not import the client (github.com/databoard/databoard/daqbuf) or any other package of the
// project: it has its own encoders so that it can catch the client's decoding mistakes.
package sim
