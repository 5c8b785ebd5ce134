package federation

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/fedscore/fedscore/api/fedscorepb"
	"github.com/fedscore/fedscore/participant"
	"github.com/fedscore/fedscore/secure/pki"
	"github.com/fedscore/fedscore/secure/psi"
	"google.golang.org/grpc"
)

// relayTap records every relay payload as the coordinator receives it.
type relayTap struct {
	mu       sync.Mutex
	payloads [][]byte
}

type relayTapStream struct {
	grpc.ServerStream
	t *relayTap
}

func (s relayTapStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if env, ok := m.(*fedscorepb.RelayEnvelope); ok && err == nil {
		s.t.mu.Lock()
		s.t.payloads = append(s.t.payloads, append([]byte(nil), env.GetPayload()...))
		s.t.mu.Unlock()
	}
	return err
}

// The bank and a partner intersect their customer ids through the
// coordinator's relay, each with its own certificate, by each protocol:
// both learn the same aligned rows, and nothing the coordinator relays
// contains an id.
func TestPSIThroughTheCoordinator(t *testing.T) {
	tap := &relayTap{}
	fed, err := Start(Options{Participants: map[string]string{}, ServerOptions: []grpc.ServerOption{
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, relayTapStream{ServerStream: ss, t: tap})
		}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer fed.Close()
	var bankIDs, partnerIDs []string
	for i := range 3000 {
		bankIDs = append(bankIDs, fmt.Sprintf("C%07d", i))
	}
	for i := 2000; i < 4500; i++ {
		partnerIDs = append(partnerIDs, fmt.Sprintf("C%07d", i))
	}
	for _, protocol := range []psi.Protocol{psi.ProtocolOPRF, psi.ProtocolECDH} {
		t.Run(protocol.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			session := "align-" + protocol.String()
			proto := psi.Config{Job: session, BatchSize: 512, Protocol: protocol}
			run := func(self, peer string, bank bool, ids []string, out *psi.Intersection, errp *error) {
				conn, err := fed.DialAs(pki.Identity{Name: self, Role: pki.Participant})
				if err != nil {
					*errp = err
					return
				}
				defer conn.Close()
				*out, *errp = participant.RunPSI(ctx, conn, participant.PSIConfig{Session: session, Self: self, Peer: peer, Bank: bank, Protocol: proto}, ids)
			}
			var bi, pi psi.Intersection
			var be, pe error
			var wg sync.WaitGroup
			wg.Add(2)
			go func() { defer wg.Done(); run("bank", "partner-1", true, bankIDs, &bi, &be) }()
			go func() { defer wg.Done(); run("partner-1", "bank", false, partnerIDs, &pi, &pe) }()
			wg.Wait()
			if be != nil || pe != nil {
				t.Fatalf("bank: %v; partner: %v", be, pe)
			}
			if bi.Size != 1000 || pi.Size != 1000 || len(bi.Rows) != 1000 || len(pi.Rows) != 1000 {
				t.Fatalf("sizes bank %d/%d partner %d/%d, want 1000", bi.Size, len(bi.Rows), pi.Size, len(pi.Rows))
			}
			for i := range bi.Rows {
				if bankIDs[bi.Rows[i]] != partnerIDs[pi.Rows[i]] {
					t.Fatalf("row %d: bank %s, partner %s: not aligned", i, bankIDs[bi.Rows[i]], partnerIDs[pi.Rows[i]])
				}
			}
		})
	}
	tap.mu.Lock()
	defer tap.mu.Unlock()
	if len(tap.payloads) == 0 {
		t.Fatal("the tap saw nothing")
	}
	for _, p := range tap.payloads {
		for _, id := range []string{bankIDs[0], bankIDs[2500], partnerIDs[len(partnerIDs)-1]} {
			if bytes.Contains(p, []byte(id)) {
				t.Fatalf("a relayed payload contains the id %s", id)
			}
		}
	}
}
