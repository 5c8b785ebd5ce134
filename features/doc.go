// Package features holds feature statistics that can be summed across
// parties, and the transforms fitted from them.
//
// Every statistic here is a plain vector of sums (counts, sums, sums of
// squares; later histograms for binning and WOE/IV), so that participants
// can compute it on their own rows, the coordinator can add the vectors
// under secure aggregation, and no single party's rows are revealed. A
// fitted transform (for example a Standardizer) is plain data that travels
// with the model.
//
// The package does no I/O. Methods whose signatures return no error never
// panic on bad input either: they mark their result invalid with NaN, and
// the next step that returns an error (Moments.Standardizer, Moments.Merge,
// model training, metrics) reports it.
package features
