// Package psi aligns the customers of the bank and one partner by an
// ECDH private set intersection, without either side showing the other the
// ids outside the intersection.
//
// # Group: X25519
//
// The protocol exponentiates in the X25519 function of RFC 7748 (circl's
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
// # Protocol
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
// What each side learns: the other's set size (from the Hello and the batch
// count); the bank, the intersection; the partner, the intersection or only
// its size. Points are pseudorandom under DDH; shuffling hides the order of
// each side's input. The security model is semi-honest, as in FATE and
// SecretFlow: a malicious party could, for example, send points of guessed
// ids to test them against the other's set.
//
// # Resources
//
// Every multiplication runs on a pool of Config.Workers goroutines (default
// GOMAXPROCS), 256 points at a time, so a batch uses every core; the
// multiplications are over 97% of the work, the rest being hashing,
// shuffling and one hash-map pass. Batches are
// Config.BatchSize ids (default 65536). Each side keeps its own ids' hashes
// (32 bytes each) and one 16-byte tag per own id; the bank additionally
// keeps 16-byte tags of the partner's ids only while its own doubled tags
// are still arriving. Neither side ever holds the other side's raw ids.
package psi
