package participant

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/fedscore/fedscore/api/fedscoregrpc"
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
	ans, err := fedscoregrpc.NewVerticalClient(conn).Join(ctx, &fedscorepb.VerticalJoinRequest{JobId: c.Job, Party: c.Self, Scoring: true})
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
	// A scorecard's half transforms the table with the pipeline it was
	// trained with (missing values and unseen categories take their bins);
	// a logistic half reads its complete numeric columns.
	var x vertical.Matrix
	var ids []string
	if mf.Pipeline != nil {
		if x, err = transformMatrix(mf.Pipeline, table); err != nil {
			return res, fmt.Errorf("participant: %s: %w", c.Data, err)
		}
		if role == vertical.RoleBank {
			if c.IDColumn == "" {
				return res, errors.New("participant: the bank publishes scores under an id column: give it")
			}
			if ids, err = tableIDs(table, c.IDColumn, c.Data); err != nil {
				return res, err
			}
		}
	} else {
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
		x, ids = matrixOf(frame), frame.IDs
	}
	res.Rows = x.Rows

	st, err := fedscoregrpc.NewRelayClient(conn).Exchange(ctx)
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
		rows, err := VerticalScores(mf, x, ids, ps, PartnerReason(v.GetPartner()), reasons)
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
// partial scores into one row per customer: PD, points on the half's
// scale (mf.Scaling, the job's base score, base odds and PDO; by default
// 600 at 50:1, 20 to double), the tier cut on the validation rows, and
// reason codes. x holds the bank's model inputs: its WOE columns for a
// scorecard (see RunVerticalScore), its raw columns otherwise. A reason is
// a characteristic that raised the customer's log-odds of default the most
// above an average customer's (every column is standardised inside the
// model, so an average customer's is 0), that is, that cost the customer
// the most points against the average: the bank's own characteristics one
// by one, and the partner's characteristics as one code, since the bank
// only ever sees their sum.
func VerticalScores(mf *VerticalModelFile, x vertical.Matrix, ids []string, ps *vertical.PartialScores, partnerReason string, reasons int) ([]scores.Row, error) {
	bm := mf.Bank
	if len(ids) != x.Rows {
		return nil, fmt.Errorf("participant: %d ids for %d rows", len(ids), x.Rows)
	}
	z, err := bm.Logits(x, ps)
	if err != nil {
		return nil, err
	}
	scale := models.ScorecardConfig{BaseScore: models.DefaultBaseScore, BaseOdds: models.DefaultBaseOdds, PDO: models.DefaultPDO}
	if s := mf.Scaling; s != nil {
		if s.BaseScore != 0 {
			scale.BaseScore = s.BaseScore
		}
		if s.BaseOdds != 0 {
			scale.BaseOdds = s.BaseOdds
		}
		if s.PDO != 0 {
			scale.PDO = s.PDO
		}
	}
	if !(scale.BaseOdds > 0 && scale.PDO > 0) {
		return nil, fmt.Errorf("participant: points scale %+v: want positive base odds and PDO", scale)
	}
	factor := scale.PDO / math.Ln2
	offset := scale.BaseScore - factor*math.Log(scale.BaseOdds)
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
