// Package vertical trains one logistic regression on customers shared by
// the bank (labels y and features X_B) and one partner (features X_P),
// without either showing the other its columns or the labels, with a
// helper that deals correlated randomness and sees no data. It follows
// ../../../shared/design/vertical.md; the deviations are listed below.
//
// # Trust model
//
// Semi-honest parties and no collusion between the helper and either data
// party, as FATE's arbiter and SecretFlow's trusted-dealer mode. A helper
// that colludes with the bank learns X_P (E + A); with the partner, X_B.
// So the helper must be run by neither data party: inside the coordinator
// when a third party runs it, or as its own node under its own identity
// when the bank runs the coordinator. CheckIdentities refuses a job whose
// helper identity is a data party's. The coordinator may carry every
// message: each message between the bank and the partner is masked with a
// stream of their pair seed, so even a coordinator that also runs the
// helper sees uniform words.
//
// # Protocol
//
// Arithmetic is in Z_2^64 with fixed point at scale 2^f (f = 16). Features
// are standardised by each party on its own rows, clipped to ±8 and put on
// the 2^-f grid; each party's partial prediction u = X·w is computed in
// plaintext and clipped to ±U (U = 8). The residual is FATE's first-order
// Taylor residual d = 0.25z + 0.5 − y, so 4d = u_B + u_P + 2 − 4y is linear
// in the shares and needs no multiplication, and the gradient of each side
// is X_Sᵀ·4d/(4n), decoded from scale 2^(2f); no share is ever truncated.
// Both parties hold additive shares of 4d from pair-seed streams (no
// traffic): [4d]_B = u_B + ρ + 2 − 4(y − η), [4d]_P = u_P − ρ − 4η. Each
// gradient is one dealt product (see product.go): the owner of the matrix
// learns M_Sᵀ·4d, using the masked matrix E = M − A sent once (SecureML's
// reuse across epochs) and a fresh correlation per iteration.
//
// Setup (each role drives its own object: Bank, Partner, Helper):
//
//	every role   → the two others: Hello{its X25519 key, start iteration}
//	partner      → bank:    MatrixChunk{PartnerGradient} ... (E = X_P − A), until io.EOF
//	bank         → partner: MatrixChunk{BankGradient} ...    (E' = X_B − A'), until io.EOF
//
// Per iteration t (batch S of the fixed schedule), one round trip:
//
//	helper  → bank:    Deal{PartnerGradient, t}   (may run ahead of training)
//	helper  → partner: Deal{BankGradient, t}      (may run ahead of training)
//	bank    → partner: Share{PartnerGradient, t}  (Bank.Send)
//	partner → bank:    Share{BankGradient, t}     (Partner.Step, which also
//	                                               updates the partner's weights)
//	bank:              Bank.Receive updates the bank's weights
//
// Each data party keeps a Checkpoint after each iteration. If a party
// drops, the job fails (RunLocal returns *Interrupted) and resumes from the
// checkpoints at one iteration, in a new session: new keys, so no stream is
// reused, and the same batches, because the schedule depends on the job id
// only. Training is exact in Z_2^64, so a resumed run ends with exactly the
// model of an uninterrupted one.
//
// Scoring: the partner sends PartialScores (its clipped u_P) for the
// customers to score, and the bank combines them (BankModel.PD). This
// reveals u_P of those customers to the bank, by design; validation metrics
// use the same exchange on the validation rows and reveal the same.
//
// Binning (bins.go): the bad count of each of the partner's bins is the
// same product with M the bin indicators and v = y, at scale 1; the counts
// go to the partner for its WOE table. Bins hold at least 50 rows.
//
// # Bounds
//
// |x| ≤ 8, |u| ≤ U, so |4d| ≤ 2U + 2 and a gradient sum over n rows is at
// most n·8·(2U + 2)·2^(2f) in magnitude: a job refuses batches above
// MaxBatch (14,913,080 rows at f = 16, U = 8; 58,254 at f = 20). NaN
// weights are refused; clipping keeps a diverging run from wrapping.
//
// # What each party learns
//
//   - The partner: the job's shape, E' (uniform), the deals (uniform), per
//     iteration the bank's masked F = [4d]_B − b (uniform) and H, which is
//     fixed by F, the partner's own data and its own gradient; and its own
//     gradient X_P,Sᵀ·4d/(4n). Never the labels, the residuals or u_B as
//     such. Tested in security_test.go.
//   - The bank: the same with the roles swapped, and its own gradient
//     X_B,Sᵀ·4d/(4n). Never X_P or u_P as such during training.
//   - The helper: the job's Params (rows, columns, batch size, epochs) and
//     the two public keys. It receives nothing else.
//   - Each party its own weights, which it updates itself.
//
// What remains is what the gradients say. The partner's gradient gives it
// X_P,Sᵀ(0.25·u_B − y): d_P linear combinations of the batch's labels. The
// bank's gives it X_B,Sᵀ·u_P: d_B combinations of the partner's partial
// predictions. On a batch no larger than the columns both are solved
// exactly (vertical.md's prototype recovered 768 of 768 labels); on larger
// batches the best linear estimate is the projection onto the party's own
// columns, whose squared correlation with the secret is about d/n plus
// whatever the two sides' columns genuinely share. Mitigations:
//   - The batches are fixed for the whole job, so every epoch reveals the
//     same d combinations of the same rows (reshuffling would give new
//     ones each epoch and, over many epochs, solve the whole vector).
//   - The minimum batch (MinBatch) is max(8·max(d_B, d_P), χ²_{d_B,0.999}/ε²)
//     with ε = 0.05: the bank's estimate of u_P stays under 0.05 correlation,
//     and the partner's estimate of the labels has correlation about
//     sqrt(d_P/n) with the residual. Smaller batches are refused.
//     TestGradientInversion runs both attacks: at the minimum the partner
//     gains under 2 points over the majority rate and the bank's
//     correlation is under 0.05; on a 12-row batch the same attacks recover
//     the labels and u_P.
//   - The bank's initial weights are secret random values, so the partner
//     never sees the zero-weight gradient X_Pᵀ(2 − 4y).
//   - Params.GradientNoise adds Gaussian noise to each party's contribution
//     to the other's gradient (off by default: it makes the model differ
//     from the plaintext one).
//
// Not covered: labels that are balanced rather than credit-like (at the
// partner's correlation bound sqrt(d_P/n), a balanced label is predicted
// better, about 0.5 + 0.4·sqrt(d_P/n)); columns correlated across the two
// sides (the bank then learns the regression of u_P on its own columns,
// which predicts u_P as well as the columns are correlated); what the final
// weights reveal (d numbers over all rows); and malicious parties. FATE's
// hetero LR reveals the same gradients.
//
// # Deviations from vertical.md
//
//   - The holder sends H = E_Sᵀ·b + c (precomputed when the deal arrives)
//     instead of its share E_Sᵀ(F + b) + c after receiving F, and the owner
//     computes M_Sᵀ(F + [v]_owner) + H + c_owner. The views are the same
//     (F, and a value fixed by F and the owner's own output), but the owner
//     makes one pass over its matrix per iteration instead of two, and the
//     partner fuses that pass with the computation of u_P, row by row while
//     the row is in cache. The partner answers after the bank's Share
//     instead of in parallel: still one round trip per iteration.
//   - Every bank ↔ partner payload, E and E' included, is masked with a
//     fresh pair-seed stream. vertical.md's ρ and η hide nothing between
//     the data parties and cancel in F + F', which a coordinator-hosted
//     helper could unmask to 4d with b and b'.
//   - The minimum batch is larger than 8·max(d_B, d_P) (see above): at
//     8·max the bank's projection of u_P has correlation about
//     sqrt(d_B/8·max) (0.1 to 0.35), far above 0.05.
//   - The batch schedule is fixed per job id, not just per session.
//   - The fixed-point features are stored as int32 (|x|·2^16 ≤ 2^19),
//     halving the partner's memory traffic.
//
// # Cost
//
// Per epoch: the partner makes one fused pass over X_P (int32); the bank
// one pass over E (uint64, when the deals arrive) and two over its own X_B;
// the helper one pass over A (uint64), stored at setup rather than
// regenerated (which would cost more than a plaintext epoch). Round trips:
// one per batch (Params.Batches). Memory: the bank holds E (8·n·d_P
// bytes: 240 MB at 100k × 300), the helper A and A', the partner its int32
// X_P and E'. Bench measures an epoch against the plaintext model on the
// joined table (a single fused pass per batch, the fastest plaintext we
// could write) with the same batches.
package vertical
