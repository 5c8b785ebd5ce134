// Package features holds feature statistics that can be summed across
// parties, and the transforms fitted from them.
//
// Every statistic here is a plain vector of sums (counts, sums, sums of
// squares, histograms over candidate cut points), so that participants
// can compute it on their own rows, the coordinator can add the vectors
// under secure aggregation, and no single party's rows are revealed. A
// fitted transform (a Standardizer, a binning Pipeline) is plain data that
// travels with the model.
//
// # Federated binning
//
// Binning, weights of evidence and the Pipeline are fitted by a protocol of
// steps whose vectors have a length everyone knows before computing them
// (FitBinning runs it in process and is the reference for wiring it):
//
//	participant                             coordinator
//	(Derive the job's derived features)
//	Describe          -> names, kinds  ---> union (not summed)
//	ColumnMoments     -> 3·d reals     ---> sum  -> NewBinPlan
//	repeat: CountBins(plan) -> plan.Len() counts -> sum -> Refine(plan, sum)
//	                                             until done (≤ MaxRounds)
//	                                      FitPipeline(last plan, its sum)
//
// Quantile cuts are searched on candidate edges seeded from the moments
// and refined inside the bins that straddle each target quantile, until
// every cut is within BinConfig.Tolerance of its target or sits at the edge
// of a single value; on the credit data sets this takes two or three
// counting rounds. All counts are exact integers, so the fitted Pipeline
// is the same whether the rows are pooled or split among participants.
//
// The package does no I/O. Methods whose signatures return no error never
// panic on bad input either: they mark their result invalid with NaN, and
// the next step that returns an error (Moments.Standardizer, Moments.Merge,
// model training, metrics) reports it.
package features
