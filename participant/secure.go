package participant

import (
	"crypto/rand"
	"fmt"
	"slices"
	"sync"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/coordinator/program"
	"github.com/fedscore/fedscore/coordinator/round"
	"github.com/fedscore/fedscore/secure/secagg"
)

// secureSession is this node's side of one secure collection: the protocol
// client and the encoded contribution, held until it has been masked.
type secureSession struct {
	// mu serialises the protocol client: after a reconnect, a task of the
	// old stream may still be running when the new one ends the session.
	mu      sync.Mutex
	round   uint64
	client  *secagg.Client
	vectors [][]uint64
}

// secure wraps the program's contribution in the masking protocol, as
// middleware around local training: the contribution is computed at the
// first step and leaves the node only masked, at the third.
func (n *Node) secure(t *fedscorepb.Task) ([]byte, error) {
	step := round.SecStep(t.GetSecaggStep())
	if step == round.Advertise {
		return n.advertise(t)
	}
	n.mu.Lock()
	s := n.sessions[t.GetJobId()]
	n.mu.Unlock()
	if s == nil || s.round != t.GetSecaggRound() {
		return nil, fmt.Errorf("participant: no secure session for job %s round %d (restarted?)", t.GetJobId(), t.GetSecaggRound())
	}
	msg, err := secagg.Unmarshal(t.GetSecagg())
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out secagg.Message
	switch step {
	case round.Share:
		roster, ok := msg.(*secagg.Roster)
		if !ok {
			return nil, fmt.Errorf("participant: share step carries %T, not a roster", msg)
		}
		out, err = s.client.ShareKeys(roster)
	case round.Mask:
		inbox, ok := msg.(*secagg.ShareInbox)
		if !ok {
			return nil, fmt.Errorf("participant: mask step carries %T, not a share inbox", msg)
		}
		out, err = s.client.MaskInput(inbox, s.vectors...)
		s.vectors = nil // masked and sent: nothing of it stays behind
	case round.Unmask:
		req, ok := msg.(*secagg.UnmaskRequest)
		if !ok {
			return nil, fmt.Errorf("participant: unmask step carries %T, not an unmasking request", msg)
		}
		out, err = s.client.Unmask(req)
		n.mu.Lock()
		if n.sessions[t.GetJobId()] == s {
			delete(n.sessions, t.GetJobId())
		}
		n.mu.Unlock()
		s.client.Close()
	default:
		return nil, fmt.Errorf("participant: unknown secure step %d", step)
	}
	if err != nil {
		return nil, err
	}
	return out.MarshalBinary()
}

func (n *Node) advertise(t *fedscorepb.Task) ([]byte, error) {
	self := slices.Index(t.GetCohort(), n.cfg.ID)
	if self < 0 {
		return nil, fmt.Errorf("participant: %s is not in the cohort the coordinator sent", n.cfg.ID)
	}
	p, err := n.job(t.GetJobId(), t.GetSpec())
	if err != nil {
		return nil, err
	}
	c := round.Collection{Kind: t.GetKind(), Round: int(t.GetRound()), Params: t.GetParams(), Plan: t.GetPlan()}
	var segs []round.Segment
	if ps, ok := p.(program.PlannedSegments); ok {
		segs, err = ps.SegmentsFor(c)
	} else {
		segs, err = p.Segments(t.GetKind())
	}
	if err != nil {
		return nil, err
	}
	v, err := p.Contribute(c)
	if err != nil {
		return nil, err
	}
	vectors, err := round.EncodeSegments(segs, v)
	if err != nil {
		return nil, err
	}
	lens := make([]int, len(segs))
	for i, s := range segs {
		lens[i] = s.Len
	}
	client, err := secagg.NewClient(secagg.Params{
		Job: t.GetJobId(), Round: t.GetSecaggRound(), Participants: t.GetCohort(), VectorLens: lens,
	}, uint32(self), rand.Reader)
	if err != nil {
		return nil, err
	}
	adv, err := client.Advertise()
	if err != nil {
		return nil, err
	}
	n.endSession(t.GetJobId()) // a new collection supersedes an abandoned one
	n.mu.Lock()
	n.sessions[t.GetJobId()] = &secureSession{round: t.GetSecaggRound(), client: client, vectors: vectors}
	n.mu.Unlock()
	return adv.MarshalBinary()
}

// endSession erases a job's protocol keys and its unmasked contribution.
func (n *Node) endSession(job string) {
	n.mu.Lock()
	s := n.sessions[job]
	delete(n.sessions, job)
	n.mu.Unlock()
	if s != nil {
		s.mu.Lock()
		s.client.Close()
		s.vectors = nil
		s.mu.Unlock()
	}
}
