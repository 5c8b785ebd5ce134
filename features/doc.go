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
//	                                      PlanCrosses(pipeline) (binary WOE)
//	CountCrosses(plan) -> counts     ---> sum -> AddCrosses(pipeline, sum)
//
// Quantile cuts are searched on candidate edges seeded from the moments
// and refined inside the bins that straddle each target quantile, until
// every cut is within BinConfig.Tolerance of its target or sits at the edge
// of a single value; on the credit data sets this takes two or three
// counting rounds. All counts are exact integers, so the fitted Pipeline
// is the same whether the rows are pooled or split among participants.
//
// # Segment crosses
//
// A scorecard on weights of evidence is additive: each characteristic adds
// the same points for a bin whatever the applicant's other bins. Risk teams
// answer the interactions this misses by segmentation (Siddiqi, Credit Risk
// Scorecards, Wiley 2006; Thomas, Edelman & Crook, Credit Scoring and Its
// Applications, SIAM 2002): separate scorecards for, say, revolvers,
// transactors and customers in arrears, because a characteristic such as
// the balance or the credit limit says different things in each. Separate
// scorecards split the data thin, so fedscore fits the segments' scorecards
// jointly with the portfolio's: every characteristic X keeps its portfolio
// column, and for each segment s of a segmenting characteristic S it gains
// a cross characteristic "X | S: s", whose bins are X's bins inside the
// segment (plus one bin for the rows outside it), with weights of evidence
// computed inside the segment and a coefficient of its own. It is the
// feature augmentation of Daumé III ("Frustratingly easy domain
// adaptation", ACL 2007) with segments as domains: the L2 penalty of the
// regression shrinks each segment's scorecard toward the portfolio's, so a
// segment departs from it only as far as its rows support. A cross bin's
// weight of evidence is likewise shrunk toward its bin's event rate over
// all rows, with CrossConfig.Prior pseudo-rows (the hierarchical smoothing
// of Micci-Barreca, "A preprocessing scheme for high-cardinality
// categorical attributes", SIGKDD Explorations 2001), so a thin cell
// carries the portfolio's evidence rather than noise.
//
// Segmenters are chosen from the fitted portfolio pipeline, so from summed
// counts only: the strongest characteristics by information value with at
// most MaxSegments bins, and of their bins only those holding at least
// MinClassRows rows of each class become segments. Crossing then takes one
// more counting collection: every participant counts its training rows per
// segment, crossed characteristic, bin and class (CountCrosses, a vector of
// integers whose layout CrossPlan fixes), the coordinator sums them and
// AddCrosses builds the cross characteristics. As with all binning, summed
// counts give exactly the pooled result.
//
// The package does no I/O. Methods whose signatures return no error never
// panic on bad input either: they mark their result invalid with NaN, and
// the next step that returns an error (Moments.Standardizer, Moments.Merge,
// model training, metrics) reports it.
package features
