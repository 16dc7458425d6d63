// Package backtest replays stored history through the rule engine and
// reports what would have fired, and with how much lead time before a
// target outcome (`resilience rules backtest`).
//
// The readers turn history back into schemas.Record values:
//
//   - ReadCSV: `ts,station,sensor,value[,seq]` rows;
//   - ReadLineProtocol: exactly what the processor writes (the `reading`
//     measurement of processor/lineproto, parsed with lineproto.ParseLine,
//     the same codec), at the precision it was written (milliseconds for the
//     processor's points, see Precision). These are the embedded stack's
//     `data/points/*.lp` files and `influx write` input;
//   - ReadInflux: the `reading` measurement of an InfluxDB 2 bucket.
//
// Readers return errors that name the line and wrap ErrBadInput. Run
// applies the records to fresh station states in the order given.
package backtest
