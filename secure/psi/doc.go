// Package psi aligns the customers of the bank and one partner by a
// private set intersection, without either side showing the other the ids
// outside the intersection. It has two protocols with the same inputs,
// outputs and id rules: OPRF (the default) and ECDH.
//
// # Why two protocols
//
// The ECDH protocol needs four variable-base X25519 multiplications per
// pair of ids, and nothing can remove them: each id must be raised to both
// secrets. circl's X25519 costs 34 µs on this machine's 2-core AMD EPYC
// (22.5 µs on the machine the issue measured), so 1M × 1M ids cost at least
// 4M × 34 µs / 2 cores = 68 s, over the 50 s the issue asks for, however
// well the rest is written; measured, 70 s. The OPRF protocol is the
// batched oblivious PRF of Kolesnikov, Kumaresan, Rosulek and Trieu (CCS
// 2016, "KKRT16"), which SecretFlow also ships beside ECDH for this reason:
// 512 base oblivious transfers (circl's ot/simot on ristretto255) and then
// only AES and SHA-256, so 1M × 1M ids take about 7 s. Both are secure
// against semi-honest parties with no third party; ECDH stays for peers
// that prefer its simpler assumptions (DDH alone, no OT).
//
// # Protocol OPRF
//
// The bank (the OT-extension receiver) hashes its n ids with the job's
// domain separator (below) and places each in one of its three cuckoo bins
// among m = 1.3n + 128 (rounded to 128) bins, by AES under a random cuckoo
// seed; an id's bins are three 40-bit slices of one AES block reduced onto
// [0, m). The partner (the OT-extension sender) draws 512 choice bits s
// and a code key. The pseudorandom code C(x) is four AES-128 blocks of the
// id hash under the code key (512 bits).
//
//	bank → partner   Hello; partner → bank Hello
//	bank → partner   Setup 1: the cuckoo seed and 512 simot first messages
//	partner → bank   Setup 2: the code key and 512 simot answers (choices s)
//	bank → partner   Setup 3: 512 pairs of AES-GCM-sealed 16-byte seeds
//	                 (k0_i, k1_i); the partner opens k_i^{s_i} only
//	bank → partner   Batch{OPRFMatrix}: u_j = t_j ⊕ r_j ⊕ C(x_j) per bin,
//	                 where column i of t is AES-CTR(k0_i) and of r AES-CTR(k1_i)
//	partner → bank   Batch{OPRFTags}: for each id y and hash g, the tag
//	                 H(j, q_j ⊕ (C(y) ∧ s)) with j = h_g(y) and
//	                 q_j = g_j ⊕ (u_j ∧ s), g the rows of its chosen columns
//	bank → partner   Result, as in ECDH
//
// Since q_j = t_j ⊕ (C(x_j) ∧ s), the partner's tag for y in bin j equals
// the bank's H(j, t_j) exactly when y = x_j; for y ≠ x_j the two codewords
// differ in about 256 bits, each masked by an unknown bit of s, so the tag
// is pseudorandom to the bank. The bank matches a tag at position p only
// if it placed x_j with hash g = p / (partner's count), so an id whose
// hashes collide is matched once (the partner sends a random tag for a
// repeated bin). Tags are sent in three groups, one per hash, all three
// in one random order, so the bank does not learn the partner's row order.
// The Result names each common id by its place k in that order, not by the
// tag's position g·n + k: the group g would tell the partner which hash the
// bank placed the id by, and so which of the bank's bins are occupied,
// which hints at the bank's ids outside the intersection (a review found
// this; TestResultHidesPlacement guards it). The agreed order is the order
// of the matching tags. H is SHA-256 of a label, the bin and the 64-byte row,
// truncated to 16 bytes (false matches about 3n²/2^128).
//
// Costs for n ids a side: 512 base OTs (about 0.15 s), 2 × 512 × m bits
// of AES-CTR for the bank and half that for the partner, one bit-matrix
// transpose each, n + 3n SHA-256 and 4n code evaluations. Traffic: 64
// bytes per bin one way and 48 bytes per partner id the other, about 130
// MB for 1M × 1M. Memory: the bank keeps its id hashes, the cuckoo table
// and a map of n tags; the partner its id hashes, three shuffles and 3n
// tags; the matrix streams in chunks of at most 16384 bins (1 MiB).
//
// # Protocol ECDH: X25519
//
// The ECDH protocol exponentiates in the X25519 function of RFC 7748 (circl's
// dh/x25519), applied to a 32-byte hash of each id as its u-coordinate.
// With clamped scalars X25519 commutes, X25519(a, X25519(b, u)) =
// X25519(b, X25519(a, u)), because both sides compute the x-coordinate of
// [clamp(a)·clamp(b)] times the point, on the curve or on its twist; and
// curve25519 is twist-secure, so a hash that lands on the twist is as good
// as one on the curve. We chose it over ristretto255 for speed: the protocol
// does two variable-base multiplications per id (4N for two sets of N)
// and nothing else of note, and circl's X25519 costs about 22.5 µs against
// about 67 µs for ristretto255 (HashToElement then Mul), so 1M × 1M ids
// take about 90 core-seconds instead of about 270. SecretFlow's ECDH-PSI
// makes the same choice. The price is that the "hash to the group" is a
// plain hash to a u-coordinate rather than a uniform map to a prime-order
// group; the cofactor is cleared by clamping, and DDH is believed hard on
// the prime-order subgroups of both curve25519 and its twist.
//
// Two multiplications per id is the minimum for this family: each id must
// be raised to both secrets (its owner's, then the other side's). A
// hash-to-curve is not needed with X25519, and no unblinding is done, so
// nothing else costs a multiplication.
//
// # Ids
//
// Each side normalises its ids before hashing:
//   - an id that is not valid UTF-8 is an error;
//   - leading and trailing Unicode white space is trimmed (strings.TrimSpace);
//   - an id that is then empty is an error;
//   - two ids equal after trimming are an error (duplicates are never
//     dropped silently);
//   - Config.Normalize, if set, runs after trimming, for example Unicode NFC
//     from golang.org/x/text/unicode/norm or case folding. The package does
//     no NFC of its own: it imports only circl and the standard library, so
//     both parties must present ids in the same Unicode form (national ids,
//     E.164 phone numbers and account numbers are ASCII and need nothing).
//
// Every error names the count of offending ids and one example (its row and
// a quoted prefix). An id is hashed as
//
//	SHA-256("fedscore/psi/v1 id" ‖ len(job) u16 ‖ job ‖ id)
//
// so the points of one job never match those of another (domain
// separation), and a point seen in one job is useless in the next. X25519
// ignores the hash's top bit, which leaves 255 bits: collisions stay
// negligible.
//
// # Protocol ECDH
//
// The bank holds a secret a, the partner a secret b (32 random bytes each,
// clamped by X25519). Messages, in order:
//
//	bank → partner   Hello{count, mode, batch size}
//	partner → bank   Hello{count, mode, batch size}
//	bank → partner   Batch{BankBlinded}:  H(x)^a for its ids, shuffled, in batches
//	partner → bank   Batch{BankDoubled}:  H(x)^ab, the first 16 bytes, same order
//	partner → bank   Batch{PartnerBlinded}: H(y)^b for its ids, shuffled, in batches
//	bank → partner   Result: the intersection size, and unless BankOnly the
//	                 partner's matching positions in the agreed order
//
// The bank raises each partner point to a and compares the first 16 bytes
// with the doubled values of its own ids (collisions: about N²/2^128). The
// agreed row order is the order of H(id)^ab, which only the bank sees; it
// sends the partner its matching positions in that order, so both sides
// list the intersection in the same order and the partner never learns
// anything about the bank's other ids. With BankOnly the partner learns
// the size alone.
//
// What each side learns, in both protocols: the other's set size (from the Hello and the batch
// count); the bank, the intersection; the partner, the intersection or only
// its size. Points are pseudorandom under DDH; shuffling hides the order of
// each side's input. The security model is semi-honest, as in FATE and
// SecretFlow: a malicious party could, for example, send points of guessed
// ids to test them against the other's set.
//
// # Resources
//
// In both protocols every heavy loop runs on a pool of Config.Workers
// goroutines (default GOMAXPROCS), so a batch uses every core. Batches are
// Config.BatchSize ids (default 65536). In ECDH the multiplications are
// over 97% of the work, the rest being hashing, shuffling and one hash-map
// pass; each side keeps its own ids' hashes (32 bytes each) and one
// 16-byte tag per own id, and the bank keeps 16-byte tags of the partner's
// ids only while its own doubled tags are still arriving. The OPRF
// protocol's resources are listed above. Neither side ever holds the other
// side's raw ids, in either protocol.
package psi
