package vertical

import "math"

// Fixed point: a real v is the word round(v·2^f) mod 2^64, read back as a
// signed integer. Products of two encodings are at scale 2^(2f) and are never
// truncated: they are decoded once, as the gradient.

// encode clips v to ±bound and encodes it at scale 2^f.
func encode(v, bound, scale float64) uint64 {
	return uint64(int64(math.Round(clip(v, bound) * scale)))
}

func clip(v, bound float64) float64 {
	return math.Max(-bound, math.Min(bound, v))
}

// quantize standardises column values are clipped to ±FeatureClip and put
// on the 2^-f grid as int32 (|x|·2^f ≤ 2^27).
func quantize(v float64, scale float64) int32 {
	return int32(math.Round(clip(v, FeatureClip) * scale))
}

// decode reads a word at scale `scale` as a real.
func decode(w uint64, scale float64) float64 { return float64(int64(w)) / scale }
