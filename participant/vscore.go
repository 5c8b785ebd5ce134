package participant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/datasets"
	"github.com/fedscore/fedscore/models"
	"github.com/fedscore/fedscore/scores"
	"github.com/fedscore/fedscore/secure/vertical"
	"google.golang.org/grpc"
)

// VerticalScoreConfig is one data party's side of scoring with a vertical
// job's registered model: the partner sends its partial scores of the
// aligned customers, the bank combines them with its own into PD, points,
// tier and reason codes and publishes them to the score store.
type VerticalScoreConfig struct {
	Job  string
	Self string
	// Data is the party's aligned table of the customers to score, in the
	// order both sides agreed (fedscore psi); the bank's holds IDColumn.
	Data     string
	IDColumn string
	// StateDir is where the party's training kept its half of the model.
	StateDir string
	// Reasons is how many reason codes per customer (0: the job's).
	Reasons int
}

// VerticalScoreResult is what a scoring run published (bank) or sent
// (partner).
type VerticalScoreResult struct {
	Role      vertical.Role
	Version   string
	Rows      int
	Published int
}

// PartnerReason is the reason code that stands for all the partner's
// columns together: the bank learns only their sum u_P.
func PartnerReason(partner string) string { return "partner:" + partner }

// RunVerticalScore scores the aligned customers of c.Data with the
// vertical model that job c.Job registered.
func RunVerticalScore(ctx context.Context, conn grpc.ClientConnInterface, c VerticalScoreConfig) (VerticalScoreResult, error) {
	var res VerticalScoreResult
	if c.Job == "" || c.Self == "" || c.Data == "" || c.StateDir == "" {
		return res, errors.New("participant: vertical scoring needs the job, the party's name, its aligned table and its state directory")
	}
	ans, err := fedscorepb.NewVerticalClient(conn).Join(ctx, &fedscorepb.VerticalJoinRequest{JobId: c.Job, Party: c.Self, Scoring: true})
	if err != nil {
		return res, fmt.Errorf("participant: joining the scoring of vertical job %s: %w", c.Job, err)
	}
	spec := ans.GetJob().GetSpec()
	v := spec.GetVertical()
	role, err := roleIn(v, c.Self)
	if err != nil {
		return res, err
	}
	res.Role, res.Version = role, ans.GetModelVersion()
	mf, err := LoadVerticalModel(VerticalStateDir(c.StateDir, c.Job) + "/model.json")
	if err != nil {
		return res, err
	}
	table, err := datasets.ReadTable(c.Data)
	if err != nil {
		return res, err
	}
	schema := datasets.Schema{Features: mf.Features}
	if role == vertical.RoleBank {
		if c.IDColumn == "" {
			return res, errors.New("participant: the bank publishes scores under an id column: give it")
		}
		schema.ID = c.IDColumn
	}
	frame, err := schema.Frame(table, c.Data)
	if err != nil {
		return res, err
	}
	x := matrixOf(frame)
	res.Rows = x.Rows

	st, err := fedscorepb.NewRelayClient(conn).Exchange(ctx)
	if err != nil {
		return res, err
	}
	p := newParty(st, VerticalConfig{Session: ans.GetSession(), Role: role, Bank: v.GetBank(), Partner: v.GetPartner(), Helper: v.GetHelper()})
	go p.receive()
	switch role {
	case vertical.RolePartner:
		if mf.Partner == nil {
			return res, fmt.Errorf("participant: %s holds no partner model", c.StateDir)
		}
		ps, err := mf.Partner.PartialScores(x)
		if err != nil {
			return res, err
		}
		if err := p.sendScores(ps); err != nil {
			return res, err
		}
	case vertical.RoleBank:
		if mf.Bank == nil {
			return res, fmt.Errorf("participant: %s holds no bank model", c.StateDir)
		}
		if err := p.join(); err != nil {
			return res, err
		}
		ps, err := p.receiveScores(mf.Bank.Job, x.Rows)
		if err != nil {
			return res, err
		}
		reasons := c.Reasons
		if reasons == 0 {
			reasons = int(spec.GetReasons())
		}
		rows, err := VerticalScores(mf, x, frame.IDs, ps, PartnerReason(v.GetPartner()), reasons)
		if err != nil {
			return res, err
		}
		res.Published, err = scores.PublishAll(ctx, scores.NewClient(conn), fmt.Sprintf("%s/vertical/%s", c.Job, res.Version), res.Version, c.Self, rows)
		if err != nil {
			return res, fmt.Errorf("participant: publishing vertical scores: %w", err)
		}
	default:
		return res, fmt.Errorf("participant: the %v takes no part in scoring", role)
	}
	if err := st.CloseSend(); err != nil {
		return res, err
	}
	wait(p, make(chan struct{})) // until the relay closes its side
	return res, nil
}

// VerticalScores combines the bank's half of the model with the partner's
// partial scores into one row per customer: PD, points on the default
// scale (600 at 50:1, 20 to double), the tier cut on the validation rows,
// and reason codes. A reason is a characteristic that raised the
// customer's log-odds of default the most above an average customer's
// (every standardised column is 0 on average): the bank's own columns one
// by one, and the partner's columns as one code, since the bank only ever
// sees their sum.
func VerticalScores(mf *VerticalModelFile, x vertical.Matrix, ids []string, ps *vertical.PartialScores, partnerReason string, reasons int) ([]scores.Row, error) {
	bm := mf.Bank
	if len(ids) != x.Rows {
		return nil, fmt.Errorf("participant: %d ids for %d rows", len(ids), x.Rows)
	}
	z, err := bm.Logits(x, ps)
	if err != nil {
		return nil, err
	}
	factor := models.DefaultPDO / math.Ln2
	offset := models.DefaultBaseScore - factor*math.Log(models.DefaultBaseOdds)
	at := program.ScoredAt()
	rows := make([]scores.Row, x.Rows)
	type contrib struct {
		name string
		v    float64
	}
	cs := make([]contrib, 0, x.Cols+1)
	for i := range rows {
		pd := min(max(1/(1+math.Exp(-z[i])), 1e-12), 1-1e-12)
		r := scores.Row{CustomerID: ids[i], PD: pd, Points: offset - factor*math.Log(pd/(1-pd)), ScoredAt: at}
		if mf.Tiers != nil {
			r.Tier = mf.Tiers.Name(pd)
		}
		if reasons > 0 {
			cs = cs[:0]
			for j, xv := range x.Row(i) {
				s := min(max((xv-bm.Scaler.Mean[j])/bm.Scaler.Std[j], -vertical.FeatureClip), vertical.FeatureClip)
				cs = append(cs, contrib{mf.Features[j], bm.Weights[j+1] * s})
			}
			cs = append(cs, contrib{partnerReason, ps.Scores[i]})
			// Largest first; ties keep column order, the partner's last.
			slices.SortStableFunc(cs, func(a, b contrib) int {
				switch {
				case a.v > b.v:
					return -1
				case a.v < b.v:
					return 1
				}
				return 0
			})
			for _, c := range cs[:min(reasons, len(cs))] {
				if c.v > 0 {
					r.Reasons = append(r.Reasons, c.name)
				}
			}
		}
		rows[i] = r
	}
	return rows, nil
}
