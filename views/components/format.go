package components

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The one place pages turn numbers, durations and sizes into words. The
// JSON API and `-o json` never come here: they keep full precision.

// FormatDuration writes a duration for people, the same on every page:
// 850 ms, 4.3s, 12s, 1m 12s, 2h 5m, 3d 4h.
func FormatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0s"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + "s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd %dh", int(d.Hours())/24, int(d.Hours())%24)
}

// FormatNumber writes a metric or hyperparameter value to 4 significant
// digits, the way MLflow's UI and Studio's tables round them: 0.9123,
// 12.35, 0.0001235, and a very small value with an exponent (1.235e-05).
// Values of 10,000 and more are rounded to a whole number with thousands
// separators (12,346) rather than an exponent — a loss or a step count
// reads better that way and is never less precise than 4 digits; past
// 1e15 the exponent comes back (1.235e+15). FormatValue gives the full
// value, for the title that shows on hover.
func FormatNumber(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v) || math.IsInf(v, 0) || a >= math.MaxFloat64:
		return FormatValue(v)
	case v == 0:
		return "0"
	case a >= 9999.5 && a < 1e15: // 9999.7 would round to 1e+04 at 4 digits
		return groupThousands(int64(math.Round(v)))
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// ShortNumber is FormatNumber for a value logged as text (a param, a
// hyperparameter): ok is false when s is not a plain decimal number, and
// then s should be shown as it is.
func ShortNumber(s string) (short string, ok bool) {
	t := strings.TrimSpace(s)
	if t == "" || strings.ContainsAny(t, "xXpP_") { // hex floats, 1_000: not what a person wrote as a number
		return s, false
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return s, false
	}
	return FormatNumber(v), true
}

// FormatBytes writes a size with binary units: 512 B, 1.5 KiB, 3.4 MiB,
// 2.0 GiB, 1.1 TiB.
func FormatBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v, unit := float64(n)/1024, 0
	units := []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}
	for v >= 1024 && unit < len(units)-1 {
		v /= 1024
		unit++
	}
	return strconv.FormatFloat(v, 'f', 1, 64) + " " + units[unit]
}

func groupThousands(n int64) string {
	neg := n < 0
	if neg {
		n = -n
	}
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
