package scores

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/apache/arrow/go/v17/arrow"
	"github.com/apache/arrow/go/v17/arrow/array"
	"github.com/apache/arrow/go/v17/arrow/flight"
	"github.com/apache/arrow/go/v17/arrow/ipc"
	"github.com/apache/arrow/go/v17/arrow/memory"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	pb "github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/datasets"
)

// ExportSchema is the Arrow schema of a tier export, one row per customer.
// reason_codes holds the codes joined with commas, most important first;
// model_version, job_id and round are the lineage of every row.
var ExportSchema = arrow.NewSchema([]arrow.Field{
	{Name: "customer_id", Type: arrow.BinaryTypes.String},
	{Name: "pd", Type: arrow.PrimitiveTypes.Float64},
	{Name: "points", Type: arrow.PrimitiveTypes.Float64},
	{Name: "tier", Type: arrow.BinaryTypes.String},
	{Name: "reason_codes", Type: arrow.BinaryTypes.String},
	{Name: "model_version", Type: arrow.BinaryTypes.String},
	{Name: "job_id", Type: arrow.BinaryTypes.String},
	{Name: "round", Type: arrow.PrimitiveTypes.Int64},
	{Name: "scored_at", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
}, nil)

// Record batches of an export stay under exportBatchBytes (well inside
// gRPC's default 4 MiB receive limit) and exportBatchRows.
const (
	exportBatchRows  = 32 << 10
	exportBatchBytes = 1 << 20
	maxTicketBytes   = 64 << 10
)

// ParseTicket decodes a Flight ticket: the JSON form of pb.ExportTicket,
// e.g. {"model_version":"v3","tiers":["A","B"]}. It checks the version and
// tiers as the store would.
func ParseTicket(b []byte) (*pb.ExportTicket, error) {
	if len(b) > maxTicketBytes {
		return nil, invalid("ticket of %d bytes, over the limit of %d", len(b), maxTicketBytes)
	}
	t := &pb.ExportTicket{}
	if err := protojson.Unmarshal(b, t); err != nil {
		return nil, invalid("ticket: %v", err)
	}
	if t.ModelVersion != "" {
		if p := nameProblem("model version", t.ModelVersion, MaxVersionBytes); p != "" {
			return nil, invalid("ticket: %s", p)
		}
	}
	for _, tier := range t.Tiers {
		if p := labelProblem("tier", tier, MaxTierBytes); p != "" {
			return nil, invalid("ticket: %s", p)
		}
	}
	return t, nil
}

// Ticket encodes a Flight ticket selecting the tiers of a model version
// ("" is the champion; no tiers is every tier).
func Ticket(version string, tiers ...string) *flight.Ticket {
	b, _ := protojson.Marshal(&pb.ExportTicket{ModelVersion: version, Tiers: tiers})
	return &flight.Ticket{Ticket: b}
}

// exportBuilder accumulates export rows as Arrow arrays.
type exportBuilder struct {
	b                           *array.RecordBuilder
	id, tier, reasons, ver, job *array.StringBuilder
	pd, points                  *array.Float64Builder
	round                       *array.Int64Builder
	at                          *array.TimestampBuilder
	rows, bytes                 int
	reasonBuf                   []byte
}

func newExportBuilder(mem memory.Allocator) *exportBuilder {
	b := array.NewRecordBuilder(mem, ExportSchema)
	return &exportBuilder{
		b:       b,
		id:      b.Field(0).(*array.StringBuilder),
		pd:      b.Field(1).(*array.Float64Builder),
		points:  b.Field(2).(*array.Float64Builder),
		tier:    b.Field(3).(*array.StringBuilder),
		reasons: b.Field(4).(*array.StringBuilder),
		ver:     b.Field(5).(*array.StringBuilder),
		job:     b.Field(6).(*array.StringBuilder),
		round:   b.Field(7).(*array.Int64Builder),
		at:      b.Field(8).(*array.TimestampBuilder),
	}
}

func (e *exportBuilder) add(r *reader, key []byte) {
	v := &r.v
	e.id.BinaryBuilder.Append(key)
	e.pd.Append(v.pd)
	e.points.Append(v.points)
	e.tier.BinaryBuilder.Append(v.tier)
	e.reasonBuf = e.reasonBuf[:0]
	for i := 0; i < v.nreasons; i++ {
		if i > 0 {
			e.reasonBuf = append(e.reasonBuf, ',')
		}
		e.reasonBuf = append(e.reasonBuf, v.reasons[i]...)
	}
	e.reasons.BinaryBuilder.Append(e.reasonBuf)
	e.ver.Append(r.m.Version)
	e.job.Append(r.m.JobID)
	e.round.Append(r.m.Round)
	if v.scoredAt == 0 {
		e.at.AppendNull()
	} else {
		e.at.Append(arrow.Timestamp(v.scoredAt / 1e3))
	}
	e.rows++
	e.bytes += len(key) + len(v.tier) + len(e.reasonBuf) + len(r.m.Version) + len(r.m.JobID) + 6*8 + 5*4
}

func (e *exportBuilder) full() bool {
	return e.rows >= exportBatchRows || e.bytes >= exportBatchBytes
}

// flush returns the rows added so far as a record (which the caller
// releases) and starts afresh.
func (e *exportBuilder) flush() arrow.Record {
	e.rows, e.bytes = 0, 0
	return e.b.NewRecord()
}

// FlightService serves tier exports over Arrow Flight: DoGet with a ticket
// from Ticket (or its JSON, see ParseTicket) streams the selected rows as
// record batches of ExportSchema, from one consistent snapshot of the store.
// GetFlightInfo with the same JSON as a command descriptor describes it.
//
// The snapshot is one bbolt read transaction held for the whole stream, so
// a slow reader keeps the pages of that snapshot alive while it reads.
type FlightService struct {
	flight.BaseFlightServer
	store *Store
}

// NewFlightService returns the Flight export service over st. Register it
// with flight.RegisterFlightServiceServer; NewGRPCServer does.
func NewFlightService(st *Store) *FlightService { return &FlightService{store: st} }

// DoGet implements flight.FlightServiceServer.
func (f *FlightService) DoGet(t *flight.Ticket, stream flight.FlightService_DoGetServer) error {
	tk, err := ParseTicket(t.GetTicket())
	if err != nil {
		return statusOf(err)
	}
	mem := memory.NewGoAllocator()
	w := flight.NewRecordWriter(stream, ipc.WithSchema(ExportSchema), ipc.WithAllocator(mem))
	eb := newExportBuilder(mem)
	defer eb.b.Release()
	write := func() error {
		rec := eb.flush()
		defer rec.Release()
		return w.Write(rec)
	}
	err = f.store.scan(stream.Context(), tk.ModelVersion, tk.Tiers, func(r *reader, key []byte) error {
		eb.add(r, key)
		if eb.full() {
			return write()
		}
		return nil
	})
	if err == nil && eb.rows > 0 {
		err = write()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return statusOf(err)
}

// GetFlightInfo implements flight.FlightServiceServer for a command
// descriptor holding a ticket's JSON.
func (f *FlightService) GetFlightInfo(ctx context.Context, d *flight.FlightDescriptor) (*flight.FlightInfo, error) {
	if d.GetType() != flight.DescriptorCMD {
		return nil, status.Error(codes.InvalidArgument, "scores: descriptor must be a command holding an export ticket")
	}
	if _, err := ParseTicket(d.GetCmd()); err != nil {
		return nil, statusOf(err)
	}
	return &flight.FlightInfo{
		Schema:           flight.SerializeSchema(ExportSchema, memory.DefaultAllocator),
		FlightDescriptor: d,
		Endpoint:         []*flight.FlightEndpoint{{Ticket: &flight.Ticket{Ticket: d.GetCmd()}}},
		TotalRecords:     -1,
		TotalBytes:       -1,
	}, nil
}

// FetchExport runs DoGet with ticket on the Flight service reachable
// through cc and calls fn with each record batch, which is released when fn
// returns. It returns the number of rows received.
func FetchExport(ctx context.Context, cc grpc.ClientConnInterface, ticket *flight.Ticket, fn func(arrow.Record) error) (int64, error) {
	stream, err := flight.NewFlightServiceClient(cc).DoGet(ctx, ticket, grpc.MaxCallRecvMsgSize(MaxPublishMessageBytes))
	if err != nil {
		return 0, wrapf(err, "flight DoGet")
	}
	rd, err := flight.NewRecordReader(stream)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return 0, nil
		}
		return 0, wrapf(err, "flight DoGet")
	}
	defer rd.Release()
	var n int64
	for rd.Next() {
		rec := rd.Record()
		n += rec.NumRows()
		if err := fn(rec); err != nil {
			return n, err
		}
	}
	if err := rd.Err(); err != nil && !errors.Is(err, io.EOF) {
		return n, wrapf(err, "flight DoGet")
	}
	return n, nil
}

// exportColumns accumulates export rows as a datasets.Table.
type exportColumns struct {
	id, pd, points, tier, reasons, ver, job, round, at *datasets.Column
}

func newExportColumns() *exportColumns {
	str := func(name string) *datasets.Column {
		return &datasets.Column{Name: name, Kind: datasets.String, String: []string{}}
	}
	num := func(name string, k datasets.Kind) *datasets.Column {
		return &datasets.Column{Name: name, Kind: k, Float: []float64{}}
	}
	return &exportColumns{
		id: str("customer_id"), pd: num("pd", datasets.Float), points: num("points", datasets.Float),
		tier: str("tier"), reasons: str("reason_codes"), ver: str("model_version"), job: str("job_id"),
		round: num("round", datasets.Int), at: num("scored_at_unix_us", datasets.Int),
	}
}

func (e *exportColumns) add(id string, pd, points float64, tier, reasons, ver, job string, round, us int64) {
	e.id.String = append(e.id.String, id)
	e.pd.Float = append(e.pd.Float, pd)
	e.points.Float = append(e.points.Float, points)
	e.tier.String = append(e.tier.String, tier)
	e.reasons.String = append(e.reasons.String, reasons)
	e.ver.String = append(e.ver.String, ver)
	e.job.String = append(e.job.String, job)
	e.round.Float = append(e.round.Float, float64(round))
	e.at.Float = append(e.at.Float, float64(us))
}

func (e *exportColumns) table() *datasets.Table {
	return &datasets.Table{Columns: []*datasets.Column{e.id, e.pd, e.points, e.tier, e.reasons, e.ver, e.job, e.round, e.at}}
}

// ExportTable returns the customers of version ("" is the champion) whose
// tier is one of tiers (any tier if none) as a table with the columns of
// ExportSchema, except that scored_at is scored_at_unix_us, an Int column
// of microseconds since 1970 (0 when unknown).
func (s *Store) ExportTable(ctx context.Context, version string, tiers []string) (Model, *datasets.Table, error) {
	cols := newExportColumns()
	model, err := s.Scan(ctx, version, tiers, func(r Record) error {
		var us int64
		if !r.ScoredAt.IsZero() {
			us = r.ScoredAt.UnixMicro()
		}
		cols.add(r.CustomerID, r.PD, r.Points, r.Tier, strings.Join(r.Reasons, ","), r.ModelVersion, r.JobID, r.Round, us)
		return nil
	})
	if err != nil {
		return Model{}, nil, err
	}
	return model, cols.table(), nil
}

// FetchExportTable runs FetchExport and gathers the rows into a table like
// ExportTable's, ready for datasets.WriteParquet.
func FetchExportTable(ctx context.Context, cc grpc.ClientConnInterface, ticket *flight.Ticket) (*datasets.Table, error) {
	cols := newExportColumns()
	_, err := FetchExport(ctx, cc, ticket, func(rec arrow.Record) error {
		if !rec.Schema().Equal(ExportSchema) {
			return fmt.Errorf("scores: flight export has schema %v, want %v", rec.Schema(), ExportSchema)
		}
		id, pd, points := rec.Column(0).(*array.String), rec.Column(1).(*array.Float64), rec.Column(2).(*array.Float64)
		tier, reasons, ver := rec.Column(3).(*array.String), rec.Column(4).(*array.String), rec.Column(5).(*array.String)
		job, round, at := rec.Column(6).(*array.String), rec.Column(7).(*array.Int64), rec.Column(8).(*array.Timestamp)
		for i := 0; i < int(rec.NumRows()); i++ {
			var us int64
			if at.IsValid(i) {
				us = int64(at.Value(i))
			}
			// Value aliases the record's buffers: copy the strings out.
			cols.add(strings.Clone(id.Value(i)), pd.Value(i), points.Value(i), strings.Clone(tier.Value(i)),
				strings.Clone(reasons.Value(i)), strings.Clone(ver.Value(i)), strings.Clone(job.Value(i)), round.Value(i), us)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return cols.table(), nil
}

// ExportParquet writes ExportTable's table to a Parquet file at path
// (atomically: a temporary file renamed into place) and returns the model
// version exported and the number of rows.
func (s *Store) ExportParquet(ctx context.Context, path, version string, tiers []string) (Model, int, error) {
	model, t, err := s.ExportTable(ctx, version, tiers)
	if err != nil {
		return Model{}, 0, err
	}
	if err := datasets.WriteParquet(path, t); err != nil {
		return Model{}, 0, fmt.Errorf("scores: export: %w", err)
	}
	return model, t.Rows(), nil
}
