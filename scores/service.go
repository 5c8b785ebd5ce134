package scores

import (
	"context"
	"errors"
	"runtime"

	"github.com/apache/arrow/go/v17/arrow/flight"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	pb "github.com/fedscore/fedscore/api/fedscorepb"
)

// MaxPublishMessageBytes is the largest gRPC message NewGRPCServer accepts:
// room for a full batch of MaxBatchRows rows with long ids.
const MaxPublishMessageBytes = 64 << 20

// ServeGCPercent is the GOGC a process serving scores should run with when
// the environment does not set one (debug.SetGCPercent). Its live heap is
// small, a few MB, so the default of 100 collects every few milliseconds
// under load; 400 cuts the collector's share of a point lookup's CPU by
// about a seventh at the cost of a few tens of MB.
const ServeGCPercent = 400

// Service implements the fedscore.v1.Scores gRPC service over a Store.
type Service struct {
	fedscoregrpc.UnimplementedScoresServer
	store *Store
}

var _ fedscoregrpc.ScoresServer = (*Service)(nil)

// NewService returns the Scores service reading and writing st.
func NewService(st *Store) *Service { return &Service{store: st} }

// NewGRPCServer returns a gRPC server with the Scores service, the Arrow
// Flight tier export (NewFlightService) and server reflection registered,
// accepting messages up to MaxPublishMessageBytes. It keeps a pool of
// stream workers, whose goroutines and grown stacks are reused from call
// to call: a fifth less CPU per point lookup than a goroutine per call.
// opts come after those defaults and so override them (add TLS here). The
// caller Serves and Stops it.
func NewGRPCServer(st *Store, opts ...grpc.ServerOption) *grpc.Server {
	opts = append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(MaxPublishMessageBytes),
		grpc.NumStreamWorkers(uint32(16 * runtime.GOMAXPROCS(0))),
	}, opts...)
	srv := grpc.NewServer(opts...)
	fedscoregrpc.RegisterScoresServer(srv, NewService(st))
	flight.RegisterFlightServiceServer(srv, NewFlightService(st))
	reflection.Register(srv)
	return srv
}

// statusOf maps the package's errors onto gRPC codes.
func statusOf(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Internal
	switch {
	case errors.Is(err, ErrInvalid):
		code = codes.InvalidArgument
	case errors.Is(err, ErrNotFound):
		code = codes.NotFound
	case errors.Is(err, ErrUnknownModel), errors.Is(err, ErrNoChampion):
		code = codes.FailedPrecondition
	case errors.Is(err, ErrBatchConflict), errors.Is(err, ErrModelConflict):
		code = codes.AlreadyExists
	case errors.Is(err, ErrClosed):
		code = codes.Unavailable
	case errors.Is(err, ErrCorrupt):
		code = codes.DataLoss
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	}
	return status.Error(code, err.Error())
}

// scoreBox allocates a Score and its timestamp together.
type scoreBox struct {
	score pb.Score
	ts    timestamppb.Timestamp
}

// fill sets box from the value in r.v.
func (r *reader) fill(box *scoreBox, id string) *pb.Score {
	s := &box.score
	s.CustomerId = id
	s.Pd = r.v.pd
	s.Points = r.v.points
	s.Tier = r.s.intern.str(r.v.tier)
	s.ReasonCodes = r.reasons()
	s.ModelVersion = r.m.Version
	s.JobId = r.m.JobID
	s.Round = r.m.Round
	if r.v.scoredAt != 0 {
		box.ts.Seconds = r.v.scoredAt / 1e9
		box.ts.Nanos = int32(r.v.scoredAt % 1e9)
		s.ScoredAt = &box.ts
	}
	return s
}

// GetScore implements fedscoregrpc.ScoresServer.
func (s *Service) GetScore(ctx context.Context, req *pb.GetScoreRequest) (*pb.Score, error) {
	id := req.GetCustomerId()
	if err := ValidID(id); err != nil {
		return nil, statusOf(err)
	}
	var out *pb.Score
	err := s.store.read(req.GetModelVersion(), func(r *reader) error {
		ok, err := r.get(id)
		if err != nil {
			return err
		}
		if !ok {
			return status.Errorf(codes.NotFound, "scores: customer %q has no score under model %q", id, r.m.Version)
		}
		out = r.fill(new(scoreBox), id)
		return nil
	})
	if err != nil {
		return nil, statusOf(err)
	}
	return out, nil
}

// BatchGetScores implements fedscoregrpc.ScoresServer.
func (s *Service) BatchGetScores(ctx context.Context, req *pb.BatchGetScoresRequest) (*pb.BatchGetScoresResponse, error) {
	ids := req.GetCustomerIds()
	if len(ids) > MaxBatchGet {
		return nil, statusOf(invalid("%d ids, over the limit of %d", len(ids), MaxBatchGet))
	}
	resp := &pb.BatchGetScoresResponse{Results: make([]*pb.ScoreResult, len(ids))}
	results := make([]pb.ScoreResult, len(ids))
	err := s.store.read(req.GetModelVersion(), func(r *reader) error {
		resp.ModelVersion = r.m.Version
		var boxes []scoreBox
		for i, id := range ids {
			res := &results[i]
			resp.Results[i] = res
			res.CustomerId = id
			if ValidID(id) != nil {
				res.Status = pb.ScoreStatus_SCORE_STATUS_INVALID_ID
				continue
			}
			ok, err := r.get(id)
			if err != nil {
				return err
			}
			if !ok {
				res.Status = pb.ScoreStatus_SCORE_STATUS_NOT_FOUND
				continue
			}
			if boxes == nil {
				boxes = make([]scoreBox, len(ids)-i)
			}
			res.Status = pb.ScoreStatus_SCORE_STATUS_FOUND
			res.Score = r.fill(&boxes[0], id)
			boxes = boxes[1:]
		}
		return nil
	})
	if err != nil {
		return nil, statusOf(err)
	}
	return resp, nil
}

// GetScoreHistory implements fedscoregrpc.ScoresServer.
func (s *Service) GetScoreHistory(ctx context.Context, req *pb.GetScoreRequest) (*pb.ScoreHistory, error) {
	recs, err := s.store.History(ctx, req.GetCustomerId())
	if err != nil {
		return nil, statusOf(err)
	}
	out := &pb.ScoreHistory{CustomerId: req.GetCustomerId(), Scores: make([]*pb.Score, len(recs))}
	for i, r := range recs {
		out.Scores[i] = ScoreProto(r)
	}
	return out, nil
}

// ScoreProto converts a Record to its wire form.
func ScoreProto(r Record) *pb.Score {
	s := &pb.Score{
		CustomerId:   r.CustomerID,
		Pd:           r.PD,
		Points:       r.Points,
		Tier:         r.Tier,
		ReasonCodes:  r.Reasons,
		ModelVersion: r.ModelVersion,
		JobId:        r.JobID,
		Round:        r.Round,
	}
	if !r.ScoredAt.IsZero() {
		s.ScoredAt = timestamppb.New(r.ScoredAt)
	}
	return s
}

// RecordOf converts a Score from the wire to a Record.
func RecordOf(s *pb.Score) Record {
	r := Record{
		CustomerID:   s.GetCustomerId(),
		PD:           s.GetPd(),
		Points:       s.GetPoints(),
		Tier:         s.GetTier(),
		Reasons:      s.GetReasonCodes(),
		ModelVersion: s.GetModelVersion(),
		JobID:        s.GetJobId(),
		Round:        s.GetRound(),
	}
	if s.GetScoredAt() != nil {
		r.ScoredAt = s.GetScoredAt().AsTime()
	}
	return r
}

// BatchOf converts a PublishScoresRequest to a Batch. A scored-at that is
// not a valid timestamp is refused with ErrInvalid.
func BatchOf(req *pb.PublishScoresRequest) (Batch, error) {
	b := Batch{
		ID:           req.GetBatchId(),
		ModelVersion: req.GetModelVersion(),
		Participant:  req.GetParticipantId(),
		Rows:         make([]Row, len(req.GetRows())),
	}
	for i, row := range req.GetRows() {
		b.Rows[i] = Row{
			CustomerID: row.GetCustomerId(),
			PD:         row.GetPd(),
			Points:     row.GetPoints(),
			Tier:       row.GetTier(),
			Reasons:    row.GetReasonCodes(),
		}
		if ts := row.GetScoredAt(); ts != nil {
			if err := ts.CheckValid(); err != nil {
				return Batch{}, invalid("batch %q row %d: scored-at: %v", b.ID, i, err)
			}
			b.Rows[i].ScoredAt = ts.AsTime()
		}
	}
	return b, nil
}

// PublishRequest converts a Batch to its wire form, for publishers.
func PublishRequest(b Batch) *pb.PublishScoresRequest {
	req := &pb.PublishScoresRequest{
		BatchId:       b.ID,
		ModelVersion:  b.ModelVersion,
		ParticipantId: b.Participant,
		Rows:          make([]*pb.ScoreRow, len(b.Rows)),
	}
	rows := make([]pb.ScoreRow, len(b.Rows))
	for i := range b.Rows {
		r := &b.Rows[i]
		row := &rows[i]
		row.CustomerId, row.Pd, row.Points, row.Tier, row.ReasonCodes = r.CustomerID, r.PD, r.Points, r.Tier, r.Reasons
		if !r.ScoredAt.IsZero() {
			row.ScoredAt = timestamppb.New(r.ScoredAt)
		}
		req.Rows[i] = row
	}
	return req
}

// PublishScores implements fedscoregrpc.ScoresServer.
func (s *Service) PublishScores(ctx context.Context, req *pb.PublishScoresRequest) (*pb.PublishScoresResponse, error) {
	b, err := BatchOf(req)
	if err != nil {
		return nil, statusOf(err)
	}
	res, err := s.store.Publish(ctx, b)
	if err != nil {
		return nil, statusOf(err)
	}
	return &pb.PublishScoresResponse{BatchId: res.BatchID, Rows: int64(res.Rows), Duplicate: res.Duplicate}, nil
}

func modelProto(m Model) *pb.ModelVersion {
	return &pb.ModelVersion{
		ModelVersion: m.Version,
		JobId:        m.JobID,
		Round:        m.Round,
		Champion:     m.Champion,
		RegisteredAt: timestamppb.New(m.RegisteredAt),
	}
}

// RegisterModelVersion implements fedscoregrpc.ScoresServer.
func (s *Service) RegisterModelVersion(ctx context.Context, req *pb.RegisterModelVersionRequest) (*pb.ModelVersion, error) {
	m, err := s.store.RegisterModel(ctx, Model{
		Version:  req.GetModelVersion(),
		JobID:    req.GetJobId(),
		Round:    req.GetRound(),
		Champion: req.GetChampion(),
	})
	if err != nil {
		return nil, statusOf(err)
	}
	return modelProto(m), nil
}

// PromoteModelVersion implements fedscoregrpc.ScoresServer.
func (s *Service) PromoteModelVersion(ctx context.Context, req *pb.PromoteModelVersionRequest) (*pb.ModelVersion, error) {
	m, err := s.store.Promote(ctx, req.GetModelVersion())
	if err != nil {
		return nil, statusOf(err)
	}
	return modelProto(m), nil
}

// ListModelVersions implements fedscoregrpc.ScoresServer.
func (s *Service) ListModelVersions(ctx context.Context, req *pb.ListModelVersionsRequest) (*pb.ListModelVersionsResponse, error) {
	ms := s.store.Models()
	out := &pb.ListModelVersionsResponse{ModelVersions: make([]*pb.ModelVersion, len(ms))}
	for i, m := range ms {
		out.ModelVersions[i] = modelProto(m)
	}
	return out, nil
}
