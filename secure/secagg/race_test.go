//go:build race

package secagg

const raceEnabled = true
