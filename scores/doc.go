// Package scores is the score-serving side of fedscore: the durable score
// store the participants publish into, the Scores gRPC service and its plain
// HTTP/JSON twin that the wallet's credit service queries, and the bulk tier
// export (Arrow Flight and Parquet) that marketing pulls.
//
// Unlike the learning and crypto cores, scores is a service package: it
// imports grpc and serves the network itself. It sits beside coordinator/ in
// the layering, above the "nothing below the coordinator imports grpc" line,
// and imports only api/fedscorepb and datasets from the project.
//
// # Store
//
// [Store] is one bbolt file. It keeps
//
//   - a table of known model versions, registered by the coordinator with
//     their lineage (training job and round), one of them the champion;
//   - one bucket of scores per model version, keyed by customer id, so a
//     customer's history is their entry in each version's bucket, and
//     promoting or rolling back the champion is a pointer change;
//   - a table of the batches published, with a digest of their rows, which
//     makes publishing idempotent.
//
// A published batch is validated whole before anything is written, then
// stored in one transaction that bbolt fsyncs before [Store.Publish]
// returns: a batch is either all there or not there, and once acknowledged
// it survives a kill -9. A stored score is a compact fixed binary layout
// (see encodeValue) rather than JSON or protobuf, so a point read decodes
// without allocating beyond the strings it returns.
//
// # Limits
//
// Customer ids are 1 to [MaxIDBytes] bytes of UTF-8. A batch holds at most
// [MaxBatchRows] rows, each customer at most once. PD is in [0, 1]; points
// are finite. A tier is 1 to [MaxTierBytes] bytes, a row has at most
// [MaxReasons] reason codes of 1 to [MaxReasonBytes] bytes; tiers and reason
// codes may not contain commas (exports and the command line join them with
// commas). A batch lookup asks for at most [MaxBatchGet] ids.
package scores
