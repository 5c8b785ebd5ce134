package datasets

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
)

// Column names of the synthetic wallet data.
const (
	SynthID    = "customer_id"
	SynthLabel = "default"
)

// SynthConfig configures Synthesize.
type SynthConfig struct {
	Customers int   // number of rows, at least 1
	Seed      int64 // same seed, same data
}

// Wallet is a synthetic table of a bank's wallet customers.
type Wallet struct {
	// Table holds customer_id (String, e.g. "C00000042"), the bank's
	// columns (BankColumns), the partner's columns (PartnerColumns) and the
	// label "default" (Int 0/1), in that order.
	Table *Table
	// TruePD is each customer's probability of default under the model
	// that drew the label: the best any scorecard could do.
	TruePD []float64
}

var (
	bankColumns    = []string{"age", "income", "tenure_months", "credit_limit", "utilization", "delinquencies_12m", "num_products", "employment"}
	partnerColumns = []string{"monthly_spend", "orders_per_month", "return_rate", "payroll_regular", "utility_late_payments", "days_since_last_purchase"}
)

// BankColumns returns the names of the columns the bank holds, besides the
// id and the label. All are numeric except employment (String: salaried,
// self_employed, student, retired, unemployed), which a default Schema
// skips and an explicit feature list must leave out or encode.
func BankColumns() []string { return append([]string(nil), bankColumns...) }

// PartnerColumns returns the names of the columns a partner (an e-commerce
// or payments firm) holds about the same customers, besides the id. All
// are numeric.
func PartnerColumns() []string { return append([]string(nil), partnerColumns...) }

// employment categories and their shares.
var employments = []struct {
	name  string
	share float64
	// log of median yearly income, its spread, and the share on a
	// regular payroll
	logIncome, incomeSD, payroll float64
	// effect on the log-odds of default
	risk float64
}{
	{"salaried", 0.56, math.Log(42000), 0.40, 0.90, 0},
	{"self_employed", 0.14, math.Log(45000), 0.65, 0.30, 0.25},
	{"student", 0.08, math.Log(9000), 0.45, 0.15, 0.30},
	{"retired", 0.14, math.Log(24000), 0.35, 0.85, -0.35},
	{"unemployed", 0.08, math.Log(7000), 0.60, 0.05, 0.55},
}

// synthIntercept sets the base default rate near 10%.
const synthIntercept = -3.1

// Synthesize draws c.Customers wallet customers, deterministically for a
// seed (math/rand/v2 PCG).
//
// Each customer has an employment status and age, and three latent
// traits: financial strain (seen by the bank through utilization,
// delinquencies and credit limit), payment behaviour (seen by the partner
// through utility late payments, payroll regularity, returns and spend)
// and engagement (orders and recency; no bearing on default). The
// log-odds of default are a linear combination of the two risk traits,
// employment, log income and youth, plus two nonlinear terms: a kink in
// utilization above 85% and a penalty for delinquencies without a regular
// payroll. TruePD is its sigmoid; the label is Bernoulli(TruePD). About
// 10% default. Neither the bank's nor the partner's columns alone predict
// default as well as both together.
func Synthesize(c SynthConfig) (*Wallet, error) {
	n := c.Customers
	if n < 1 || n > 1<<28 {
		return nil, fmt.Errorf("datasets: synthesize %d customers: want 1 to %d", n, 1<<28)
	}
	rng := newRand(c.Seed)
	f := func() []float64 { return make([]float64, n) }
	var (
		age, income, tenure, limit, util, delinq, products = f(), f(), f(), f(), f(), f(), f()
		spend, orders, returns, payroll, late, recency     = f(), f(), f(), f(), f(), f()
		label, pd                                          = f(), f()
		employment                                         = make([]string, n)
	)
	for i := range n {
		// Employment and age.
		e, u := 0, rng.Float64()
		for e < len(employments)-1 && u >= employments[e].share {
			u -= employments[e].share
			e++
		}
		emp := &employments[e]
		employment[i] = emp.name
		var a float64
		switch emp.name {
		case "student":
			a = 18 + math.Floor(9*rng.Float64()*rng.Float64())
		case "retired":
			a = 60 + math.Floor(21*math.Pow(rng.Float64(), 1.4))
		default:
			a = clamp(math.Round(41+12*rng.NormFloat64()), 19, 67)
		}
		age[i] = a

		// Latent traits.
		strain := rng.NormFloat64()
		behaviour := 0.3*strain + 0.954*rng.NormFloat64()
		engagement := rng.NormFloat64()

		// Bank's view.
		logInc := emp.logIncome + 0.02*(a-40) - 0.0006*(a-40)*(a-40) +
			emp.incomeSD*rng.NormFloat64() - 0.15*strain
		inc := math.Round(math.Exp(logInc))
		income[i] = inc
		ten := math.Floor(70 * rng.ExpFloat64())
		tenure[i] = min(ten, (a-18)*12+11)
		products[i] = min(1+poisson(rng, 0.4+0.15*min(tenure[i]/24, 5)), 6)
		lim := inc * (0.12 + 0.12*rng.Float64()) * math.Exp(-0.3*strain)
		limit[i] = max(500, math.Round(lim/100)*100)
		if rng.Float64() < 0.12 {
			util[i] = 0 // a dormant card
		} else {
			util[i] = math.Round(1200*sigmoid(-0.7+1.1*strain+0.5*rng.NormFloat64())) / 1000
		}
		delinq[i] = min(poisson(rng, math.Exp(-2.1+0.9*strain)), 12)

		// Partner's view.
		onPayroll := rng.Float64() < sigmoid(logit(emp.payroll)-0.8*behaviour)
		if onPayroll {
			payroll[i] = 1
		}
		spend[i] = math.Round(inc/12*math.Exp(-1.3+0.35*rng.NormFloat64()+0.25*behaviour+0.2*engagement)*100) / 100
		orders[i] = min(poisson(rng, math.Exp(0.9+0.5*engagement)), 60)
		returns[i] = math.Round(sigmoid(-2.3+0.6*behaviour+0.4*rng.NormFloat64())*1000) / 1000
		late[i] = min(poisson(rng, math.Exp(-1.4+0.95*behaviour)), 12)
		recency[i] = min(math.Floor(9*math.Exp(-0.6*engagement+0.2*behaviour)*rng.ExpFloat64()), 365)

		// Default.
		eta := synthIntercept + 0.75*strain + 0.75*behaviour + emp.risk -
			0.3*(logInc-math.Log(35000)) + 0.04*max(25-a, 0) +
			2.5*max(util[i]-0.85, 0) + 0.3*min(delinq[i], 4)
		if !onPayroll {
			eta += 0.25 * min(delinq[i], 3)
		}
		p := sigmoid(eta)
		pd[i] = p
		if rng.Float64() < p {
			label[i] = 1
		}
	}
	t := &Table{Columns: []*Column{
		{Name: SynthID, Kind: String, String: customerIDs(n)},
		{Name: "age", Kind: Int, Float: age},
		{Name: "income", Kind: Float, Float: income},
		{Name: "tenure_months", Kind: Int, Float: tenure},
		{Name: "credit_limit", Kind: Int, Float: limit},
		{Name: "utilization", Kind: Float, Float: util},
		{Name: "delinquencies_12m", Kind: Int, Float: delinq},
		{Name: "num_products", Kind: Int, Float: products},
		{Name: "employment", Kind: String, String: employment},
		{Name: "monthly_spend", Kind: Float, Float: spend},
		{Name: "orders_per_month", Kind: Int, Float: orders},
		{Name: "return_rate", Kind: Float, Float: returns},
		{Name: "payroll_regular", Kind: Bool, Float: payroll},
		{Name: "utility_late_payments", Kind: Int, Float: late},
		{Name: "days_since_last_purchase", Kind: Int, Float: recency},
		{Name: SynthLabel, Kind: Int, Float: label},
	}}
	return &Wallet{Table: t, TruePD: pd}, nil
}

// customerIDs returns "C00000000", "C00000001", ..., widening past 10^8.
// All ids share one backing string.
func customerIDs(n int) []string {
	width := 1 + max(8, len(strconv.Itoa(n-1)))
	buf := make([]byte, n*width)
	for i := range n {
		row := buf[i*width : (i+1)*width]
		row[0] = 'C'
		x := i
		for j := width - 1; j > 0; j-- {
			row[j] = byte('0' + x%10)
			x /= 10
		}
	}
	all := string(buf)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = all[i*width : (i+1)*width]
	}
	return ids
}

// poisson draws a Poisson variate by inversion; fine for the small means
// used here.
func poisson(rng *rand.Rand, mean float64) float64 {
	u := rng.Float64()
	p := math.Exp(-mean)
	cdf := p
	k := 0.0
	for u > cdf && k < 1000 {
		k++
		p *= mean / k
		cdf += p
	}
	return k
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

func logit(p float64) float64 { return math.Log(p / (1 - p)) }

func clamp(x, lo, hi float64) float64 { return min(max(x, lo), hi) }
