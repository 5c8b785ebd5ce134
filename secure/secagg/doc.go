// Package secagg is secure aggregation for fedscore: the coordinator learns
// the sum of the participants' vectors, and nothing else about any one of
// them, even when some participants drop out mid-round.
//
// It follows Bonawitz et al. (CCS 2017, "Practical Secure Aggregation for
// Privacy-Preserving Machine Learning") with the sparse neighbour graphs of
// Bell et al. (CCS 2020, SecAgg+), as fixed by design/secure-aggregation.md,
// on circl (X25519, ristretto255 scalars, polynomials and Lagrange bases)
// and the standard library (HKDF-SHA256, AES-GCM, AES-CTR).
//
// # Threat model
//
// Semi-honest server: the coordinator follows the protocol but is curious,
// and may collude with a fraction γ of the participants (default 5%); up to
// δ of the participants may drop out (default 30%). Phase 3 of the
// specification, the consistency check in which participants sign U3, needs
// identity keys that participants do not have yet, so it is not built: a
// coordinator that actively lies about who dropped, telling one holder that
// u survived and another that u dropped, is outside this model. Every check
// a holder can make alone is made (see Client.Unmask), the two secrets are
// shared independently, and a holder answers once per round.
//
// # Roles and one round
//
// The protocol is split by role into pure steps, circl style: a Client per
// participant and a Server for the coordinator, with no I/O, no clock and no
// goroutines (except Params.Workers on the Server). Randomness comes in as
// an io.Reader; a deterministic reader yields a deterministic transcript
// (testdata/kat.json). Messages are opaque bytes to the transport
// (MarshalBinary, Unmarshal). Both sides build the same Params; U is
// Params.Participants and a participant's index in it is its id.
//
//	phase 0  participant: Client.Advertise()           → AdvertiseKeys
//	         coordinator: Server.Receive(u, m)…; Server.Roster() → Roster, to every member of U1
//	phase 1  participant: Client.ShareKeys(roster)      → ShareKeys
//	         coordinator: Server.Receive…; Server.Inboxes() → one ShareInbox per member of U2
//	phase 2  participant: Client.MaskInput(inbox, x...) → MaskedInput
//	         coordinator: Server.Receive…; Server.UnmaskRequests() → one UnmaskRequest per member of U3
//	phase 4  participant: Client.Unmask(request)        → UnmaskResponse
//	         coordinator: Server.Receive…; Server.Sum() → Σ_{U3} x_u, one vector per vector-id
//
// The coordinator closes each phase when Server.Pending is empty or its
// timer fires; whoever has not sent by then counts as dropped
// (Server.Dropouts). A message for another job or round, from another sender
// than the transport authenticated, duplicated, early or late is refused
// with its own sentinel error and changes nothing. If a phase closes with
// fewer than MinSurvivors = ⌈(1−δ)n⌉ participants, or some secret has fewer
// than t live holders, the round fails with a *RoundError that says who
// dropped in which phase, and no sum is computed. A participant that is not
// asked to unmask should call Client.Close when the round ends. RunLocal
// runs a whole round in memory.
//
// # Parameters
//
// Complete graph for n ≤ 200 with t = ⌈(1−δ)n⌉; beyond, a random Harary
// graph whose degree k and threshold t come from the specification's table
// (HararyParams; semi-honest, γ = 5%, δ = 0.3 by default):
//
//	n       ≤200 (complete)  500     1000    10^4
//	k / t   n−1 / ⌈0.7n⌉      58/20   66/23   80/29
//
// The graph is a function of job, round and the set U (sorted ids, hashed),
// fixed before phase 0; it is never recomputed over the responders. On top
// of the per-secret threshold the round requires |U1|, |U2|, |U3| ≥
// ⌈(1−δ)n⌉, as fcp does.
//
// # Key schedule
//
// ctx = SHA-256 of job, round, U, the vector lengths and the resolved graph
// parameters; every derivation below is HKDF-SHA256 with its own label and
// ctx in the info, so parties that disagree on any parameter fail to decrypt
// instead of corrupting the sum.
//
//	k_s, k_b                uniform ristretto255 scalars (64 reader bytes, hashed to the field)
//	s_u (mask key pair)     s_u^SK = HKDF(k_s, "mask-key" ‖ ctx ‖ u); s_u^PK = X25519(s_u^SK, 9)
//	c_u (encryption pair)   32 fresh reader bytes
//	share key u→v           HKDF(X25519(c_u, c_v), "share" ‖ ctx ‖ u ‖ v ‖ c_u^PK ‖ c_v^PK), AES-256-GCM,
//	                        zero nonce (one key per direction and round), AD = (job, round, u, v)
//	pair mask seed          HKDF(X25519(s_u, s_v), "pair" ‖ ctx ‖ min ‖ max ‖ vector-id ‖ m)
//	self mask seed          HKDF(k_b, "self-mask" ‖ ctx ‖ u ‖ vector-id ‖ m)
//	PRG                     AES-128-CTR, zero IV, little-endian uint64 words, added in Z_{2^64}
//
// y_u = x_u + PRG(b_u) + Σ_{v ∈ N(u)∩U2} σ_uv·PRG(s_uv), σ_uv = +1 if u > v
// and −1 if u < v. k_s and k_b are Shamir-shared separately (degree t−1,
// holder v has id v+1) among the holders in U1.
//
// # Deviations from design/secure-aggregation.md
//
//   - Shares are split with circl's math/polynomial rather than
//     secretsharing.New: circl v1.6.5's Ristretto255.RandomScalar ignores its
//     reader (it reads crypto/rand), which would break deterministic
//     transcripts. The polynomial is the same; secretsharing.Recover accepts
//     the shares (TestSharesInteroperate).
//   - Shares are encrypted with X25519 + HKDF + AES-GCM as the specification
//     derives the key, not HPKE (issue 3 mentions HPKE): static-static
//     agreement authenticates the sender, costs one X25519 per pair and
//     direction where HPKE base mode costs two and authenticates nobody, and
//     the ciphertext is 32 bytes shorter.
//   - Every derivation is bound to ctx (above), which contains job and round
//     and also U and the parameters.
//   - ShareKeys carries a SHA-256 commitment to k_b (k_b is a uniform
//     252-bit secret, so the hash hides it). The specification lets the
//     coordinator verify a reconstructed k_s against s_u^PK but not k_b; with
//     the commitment a wrong share fails the round (ErrReconstruction)
//     instead of silently corrupting the sum.
//   - The unmasking request is addressed per holder: it lists the members of
//     U3 among the holder's own N(v) ∪ {v}, which is all of U3 with the
//     complete graph and k+1 ids instead of |U3| with Harary graphs. A
//     holder refuses ids outside that set (ErrNotNeighbour).
//   - Between the table's columns the next larger n is used (conservative:
//     the same k on fewer nodes is better connected); beyond n = 10^4, or
//     for δ ≠ 0.3, the caller must set Degree and Threshold.
package secagg
