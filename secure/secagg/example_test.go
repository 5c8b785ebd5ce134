package secagg_test

import (
	"fmt"

	"github.com/fedscore/fedscore/secure/secagg"
)

// One round with three participants, step by step, as the coordinator's
// round machine and the participants' middleware drive it. Participant 2
// drops out after sharing its keys; the sum covers participants 0 and 1.
func Example() {
	p := secagg.Params{Job: "job-1", Round: 1, Participants: []string{"bank", "partner-a", "partner-b"}, VectorLens: []int{3}}
	p.Dropout = 0.4 // tolerate one dropout in three: t = 2
	inputs := [][]uint64{{1, 2, 3}, {10, 20, 30}, {100, 200, 300}}

	srv, _ := secagg.NewServer(p)
	clients := make([]*secagg.Client, 3)
	for u := range clients {
		clients[u], _ = secagg.NewClient(p, uint32(u), nil) // nil: crypto/rand
	}
	// The transport carries bytes; the coordinator passes the sender it
	// authenticated.
	send := func(u uint32, m secagg.Message) {
		b, _ := m.MarshalBinary()
		if err := srv.ReceiveBytes(u, b); err != nil {
			fmt.Println(err)
		}
	}

	for u, c := range clients { // phase 0
		m, _ := c.Advertise()
		send(uint32(u), m)
	}
	roster, _ := srv.Roster()
	for u, c := range clients { // phase 1
		m, _ := c.ShareKeys(roster)
		send(uint32(u), m)
	}
	inboxes, _ := srv.Inboxes()
	for _, in := range inboxes { // phase 2; participant 2 is gone
		if in.To == 2 {
			continue
		}
		m, _ := clients[in.To].MaskInput(in, inputs[in.To])
		send(in.To, m)
	}
	reqs, _ := srv.UnmaskRequests()
	for _, r := range reqs { // phase 4
		m, _ := clients[r.To].Unmask(r)
		send(r.To, m)
	}
	sum, err := srv.Sum()
	fmt.Println(sum, err, srv.Survivors(), srv.Dropouts())
	// Output: [[11 22 33]] <nil> [0 1] masked-input [2]
}
