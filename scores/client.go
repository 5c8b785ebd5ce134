package scores

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
	pb "github.com/fedscore/fedscore/api/fedscorepb"
)

// Publisher stores batches of scores: a *Store in-process, or a *Client of
// a remote Scores service.
type Publisher interface {
	Publish(ctx context.Context, b Batch) (PublishResult, error)
}

var (
	_ Publisher = (*Store)(nil)
	_ Publisher = (*Client)(nil)
)

// PublishAll publishes rows in batches of at most MaxBatchRows, with ids
// "<id>/<k>" for k = 0, 1, ...: the same rows published again under the
// same id make the same batches, which the store recognises as replays. It
// stops at the first error; the batches before it are stored.
func PublishAll(ctx context.Context, p Publisher, id, version, participant string, rows []Row) (stored int, err error) {
	for k, lo := 0, 0; lo < len(rows); k, lo = k+1, lo+MaxBatchRows {
		hi := min(lo+MaxBatchRows, len(rows))
		res, err := p.Publish(ctx, Batch{ID: fmt.Sprintf("%s/%d", id, k), ModelVersion: version, Participant: participant, Rows: rows[lo:hi]})
		if err != nil {
			return stored, err
		}
		stored += res.Rows
	}
	return stored, nil
}

// Client is the Go face of a remote Scores service. Its errors wrap the
// package's sentinels as the Store's do (ErrInvalid, ErrNotFound,
// ErrUnknownModel...), so callers need not know which side of the network
// the store is on.
type Client struct {
	c fedscoregrpc.ScoresClient
}

// NewClient returns a client of the Scores service reachable through cc.
// Dial cc with grpc.MaxCallSendMsgSize(MaxPublishMessageBytes) to publish
// full batches.
func NewClient(cc grpc.ClientConnInterface) *Client {
	return &Client{c: fedscoregrpc.NewScoresClient(cc)}
}

// errorOf maps a gRPC error from the Scores service back onto the
// package's sentinels.
func errorOf(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	var sentinel error
	msg := st.Message()
	switch st.Code() {
	case codes.InvalidArgument:
		sentinel = ErrInvalid
	case codes.NotFound:
		sentinel = ErrNotFound
	case codes.FailedPrecondition:
		sentinel = ErrUnknownModel
		if strings.Contains(msg, bare(ErrNoChampion)) {
			sentinel = ErrNoChampion
		}
	case codes.AlreadyExists:
		sentinel = ErrBatchConflict
		if strings.Contains(msg, bare(ErrModelConflict)) {
			sentinel = ErrModelConflict
		}
	case codes.Unavailable:
		sentinel = ErrClosed
	case codes.DataLoss:
		sentinel = ErrCorrupt
	default:
		return err
	}
	return &remoteError{msg: msg, sentinel: sentinel, err: err}
}

// bare is a sentinel's message without the package prefix.
func bare(sentinel error) string { return strings.TrimPrefix(sentinel.Error(), "scores: ") }

// remoteError is a Scores service error: it reads as the server's message
// and matches both the sentinel and the gRPC status.
type remoteError struct {
	msg      string
	sentinel error
	err      error
}

func (e *remoteError) Error() string {
	if strings.HasPrefix(e.msg, "scores: ") {
		return e.msg
	}
	return "scores: " + e.msg
}
func (e *remoteError) Is(target error) bool { return target == e.sentinel }
func (e *remoteError) Unwrap() error        { return e.err }

// Publish implements Publisher.
func (c *Client) Publish(ctx context.Context, b Batch) (PublishResult, error) {
	resp, err := c.c.PublishScores(ctx, PublishRequest(b))
	if err != nil {
		return PublishResult{}, errorOf(err)
	}
	return PublishResult{BatchID: resp.BatchId, Rows: int(resp.Rows), Duplicate: resp.Duplicate}, nil
}

// RegisterModel is Store.RegisterModel over the network.
func (c *Client) RegisterModel(ctx context.Context, m Model) (Model, error) {
	resp, err := c.c.RegisterModelVersion(ctx, &pb.RegisterModelVersionRequest{ModelVersion: m.Version, JobId: m.JobID, Round: m.Round, Champion: m.Champion})
	if err != nil {
		return Model{}, errorOf(err)
	}
	return modelOf(resp), nil
}

// Promote is Store.Promote over the network.
func (c *Client) Promote(ctx context.Context, version string) (Model, error) {
	resp, err := c.c.PromoteModelVersion(ctx, &pb.PromoteModelVersionRequest{ModelVersion: version})
	if err != nil {
		return Model{}, errorOf(err)
	}
	return modelOf(resp), nil
}

// Get is Store.Get over the network.
func (c *Client) Get(ctx context.Context, id, version string) (Record, error) {
	resp, err := c.c.GetScore(ctx, &pb.GetScoreRequest{CustomerId: id, ModelVersion: version})
	if err != nil {
		return Record{}, errorOf(err)
	}
	return RecordOf(resp), nil
}

// GetMany is Store.GetMany over the network. Of the Model, only Version is
// always set; JobID and Round are when some id was found.
func (c *Client) GetMany(ctx context.Context, ids []string, version string) (Model, []Lookup, error) {
	resp, err := c.c.BatchGetScores(ctx, &pb.BatchGetScoresRequest{CustomerIds: ids, ModelVersion: version})
	if err != nil {
		return Model{}, nil, errorOf(err)
	}
	m := Model{Version: resp.ModelVersion}
	out := make([]Lookup, len(resp.Results))
	for i, r := range resp.Results {
		out[i].CustomerID = r.CustomerId
		switch r.Status {
		case pb.ScoreStatus_SCORE_STATUS_FOUND:
			out[i].Status = Found
			out[i].Record = RecordOf(r.Score)
			m.JobID, m.Round = out[i].Record.JobID, out[i].Record.Round
		case pb.ScoreStatus_SCORE_STATUS_NOT_FOUND:
			out[i].Status = NotFound
		case pb.ScoreStatus_SCORE_STATUS_INVALID_ID:
			out[i].Status = InvalidID
		default:
			return Model{}, nil, errors.New("scores: batch get: unknown status " + r.Status.String())
		}
	}
	return m, out, nil
}

func modelOf(m *pb.ModelVersion) Model {
	return Model{Version: m.ModelVersion, JobID: m.JobId, Round: m.Round, Champion: m.Champion, RegisteredAt: m.RegisteredAt.AsTime()}
}
