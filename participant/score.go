package participant

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/scores"
)

// ScoreTable scores the node's own customers with a scoring plan and
// returns the rows it would publish: ids and results only.
func (n *Node) ScoreTable(plan []byte, idColumn string) ([]scores.Row, *program.Scorer, error) {
	sc, err := program.NewScorer(plan)
	if err != nil {
		return nil, nil, err
	}
	ids := n.table.Column(idColumn)
	if idColumn == "" || ids == nil {
		return nil, nil, fmt.Errorf("participant: %s has no id column %q to publish scores under", n.cfg.Data, idColumn)
	}
	scored, err := sc.Score(n.table, n.cfg.Data)
	if err != nil {
		return nil, nil, err
	}
	at := program.ScoredAt()
	rows := make([]scores.Row, len(scored))
	for i, s := range scored {
		rows[i] = scores.Row{CustomerID: ids.Format(i), PD: s.PD, Points: s.Points, Tier: s.Tier, Reasons: s.Reasons, ScoredAt: at}
	}
	return rows, sc, nil
}

// score answers a scoring task: it scores the node's customers and
// publishes the results to the score store through the coordinator, in
// idempotent batches, and tells the coordinator only how many.
func (n *Node) score(t *fedscorepb.Task) ([]byte, error) {
	start := time.Now()
	rows, sc, err := n.ScoreTable(t.GetPlan(), t.GetSpec().GetIdColumn())
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	conn := n.conn
	n.mu.Unlock()
	if conn == nil {
		return nil, errors.New("participant: not connected")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	published, err := scores.PublishAll(ctx, scores.NewClient(conn), sc.Plan.Batch+"/"+n.cfg.ID, sc.Plan.Version, n.cfg.ID, rows)
	if err != nil {
		return nil, fmt.Errorf("participant: publishing scores: %w", err)
	}
	sum := program.ScoreSummary{Participant: n.cfg.ID, Rows: len(rows), Published: published, Seconds: time.Since(start).Seconds(), Tiers: map[string]int{}}
	for _, r := range rows {
		if r.Tier != "" {
			sum.Tiers[r.Tier]++
		}
	}
	n.log.Info("scores published", "version", sc.Plan.Version, "rows", published, "took", time.Since(start).Round(time.Millisecond))
	return json.Marshal(sum)
}
