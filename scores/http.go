package scores

import (
	"encoding/json"
	"io"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/fedscore/fedscore/api/fedscorepb"
)

// maxHTTPBody bounds a batch lookup's request body: 1,000 ids of 256 bytes
// with JSON quoting fit comfortably.
const maxHTTPBody = 1 << 20

// NewHTTPHandler returns the plain HTTP/JSON face of the Scores service, for
// services that do not speak gRPC. Bodies are the protobuf messages in
// protojson form with the .proto field names:
//
//	GET  /v1/scores/{id}[?model_version=V]          -> Score
//	GET  /v1/scores/{id}/history                    -> ScoreHistory
//	POST /v1/scores:batchGet  BatchGetScoresRequest -> BatchGetScoresResponse
//	GET  /v1/models                                 -> ListModelVersionsResponse
//
// Errors are {"error": {"code": "NOT_FOUND", "message": "..."}} with the
// HTTP status of the gRPC code (404, 400, 409, 503, 500).
func NewHTTPHandler(svc *Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/scores/{id}", func(w http.ResponseWriter, r *http.Request) {
		resp, err := svc.GetScore(r.Context(), &pb.GetScoreRequest{
			CustomerId:   r.PathValue("id"),
			ModelVersion: r.URL.Query().Get("model_version"),
		})
		reply(w, resp, err)
	})
	mux.HandleFunc("GET /v1/scores/{id}/history", func(w http.ResponseWriter, r *http.Request) {
		resp, err := svc.GetScoreHistory(r.Context(), &pb.GetScoreRequest{CustomerId: r.PathValue("id")})
		reply(w, resp, err)
	})
	mux.HandleFunc("POST /v1/scores:batchGet", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHTTPBody))
		if err != nil {
			reply(w, nil, status.Errorf(codes.InvalidArgument, "scores: reading request body: %v", err))
			return
		}
		req := &pb.BatchGetScoresRequest{}
		if err := protojson.Unmarshal(body, req); err != nil {
			reply(w, nil, status.Errorf(codes.InvalidArgument, "scores: request body is not a BatchGetScoresRequest: %v", err))
			return
		}
		resp, err := svc.BatchGetScores(r.Context(), req)
		reply(w, resp, err)
	})
	mux.HandleFunc("GET /v1/models", func(w http.ResponseWriter, r *http.Request) {
		resp, err := svc.ListModelVersions(r.Context(), &pb.ListModelVersionsRequest{})
		reply(w, resp, err)
	})
	return mux
}

var jsonOut = protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}

func reply(w http.ResponseWriter, m proto.Message, err error) {
	w.Header().Set("Content-Type", "application/json")
	if err == nil {
		var b []byte
		if b, err = jsonOut.Marshal(m); err == nil {
			w.Write(append(b, '\n'))
			return
		}
	}
	st := status.Convert(err)
	w.WriteHeader(httpStatus(st.Code()))
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{
		"code":    codeName(st.Code()),
		"message": st.Message(),
	}})
}

// codeName is the gRPC code in the UPPER_SNAKE form of the Google API
// error model ("NOT_FOUND").
func codeName(c codes.Code) string {
	switch c {
	case codes.InvalidArgument:
		return "INVALID_ARGUMENT"
	case codes.NotFound:
		return "NOT_FOUND"
	case codes.FailedPrecondition:
		return "FAILED_PRECONDITION"
	case codes.AlreadyExists:
		return "ALREADY_EXISTS"
	case codes.Unavailable:
		return "UNAVAILABLE"
	case codes.DataLoss:
		return "DATA_LOSS"
	case codes.Canceled:
		return "CANCELLED"
	case codes.DeadlineExceeded:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}

func httpStatus(c codes.Code) int {
	switch c {
	case codes.InvalidArgument:
		return http.StatusBadRequest
	case codes.NotFound:
		return http.StatusNotFound
	case codes.FailedPrecondition, codes.AlreadyExists:
		return http.StatusConflict
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.Canceled:
		return 499
	}
	return http.StatusInternalServerError
}
