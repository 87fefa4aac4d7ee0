package arm

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseDuration reads an ISO-8601 duration of the form
// [-]P[nW][nD][T[nH][nM][n[.f]S]], as ARM uses for idle times ("PT120S",
// "PT5M", "P1DT2H"). A day is 24 hours and a week 7 days. Years and months
// are refused because they have no fixed length; only seconds may have a
// fraction (up to nanoseconds). Designators are upper case and in order.
func ParseDuration(s string) (time.Duration, error) {
	fail := func(why string) (time.Duration, error) {
		return 0, fmt.Errorf("%q is not an ISO-8601 duration such as PT120S or PT30M: %s", s, why)
	}
	rest := s
	neg := strings.HasPrefix(rest, "-")
	if neg {
		rest = rest[1:]
	}
	if !strings.HasPrefix(rest, "P") {
		return fail("it must start with P")
	}
	rest = rest[1:]
	if rest == "" {
		return fail("nothing follows P")
	}
	var (
		total    uint64
		inTime   bool
		lastRank = -1
	)
	for rest != "" {
		if rest[0] == 'T' {
			if inTime {
				return fail("T appears twice")
			}
			inTime = true
			rest = rest[1:]
			if rest == "" {
				return fail("nothing follows T")
			}
			continue
		}
		i := digits(rest)
		if i == 0 {
			return fail(fmt.Sprintf("expected a number at %q", rest))
		}
		whole := rest[:i]
		frac := ""
		if i < len(rest) && (rest[i] == '.' || rest[i] == ',') {
			j := i + 1 + digits(rest[i+1:])
			if j == i+1 {
				return fail("a decimal point must be followed by digits")
			}
			frac, i = rest[i+1:j], j
		}
		if i == len(rest) {
			return fail(fmt.Sprintf("the number %s has no unit", rest))
		}
		unit, rank, err := designator(rest[i], inTime)
		if err != nil {
			return fail(err.Error())
		}
		rest = rest[i+1:]
		if rank <= lastRank {
			return fail("units must appear once each, largest first")
		}
		lastRank = rank
		if frac != "" && unit != uint64(time.Second) {
			return fail("only seconds may have a fraction")
		}
		v, ok := scale(whole, frac, unit)
		if !ok || total+v < total || total+v > math.MaxInt64+1 {
			return fail("it is too long")
		}
		total += v
	}
	if inTime && lastRank < 2 {
		return fail("nothing follows T")
	}
	if neg {
		if total == math.MaxInt64+1 {
			return math.MinInt64, nil
		}
		return -time.Duration(total), nil
	}
	if total > math.MaxInt64 {
		return fail("it is too long")
	}
	return time.Duration(total), nil
}

// digits returns the length of the run of ASCII digits at the start of s.
func digits(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// designator returns the length in nanoseconds and the order rank of a unit letter.
func designator(c byte, inTime bool) (uint64, int, error) {
	const day = uint64(24 * time.Hour)
	switch {
	case !inTime && c == 'W':
		return 7 * day, 0, nil
	case !inTime && c == 'D':
		return day, 1, nil
	case !inTime && (c == 'Y' || c == 'M'):
		return 0, 0, errors.New("years and months have no fixed length; use days (PnD)")
	case inTime && c == 'H':
		return uint64(time.Hour), 2, nil
	case inTime && c == 'M':
		return uint64(time.Minute), 3, nil
	case inTime && c == 'S':
		return uint64(time.Second), 4, nil
	case !inTime && (c == 'H' || c == 'S'):
		return 0, 0, errors.New("hours, minutes and seconds come after T")
	}
	return 0, 0, fmt.Errorf("unknown unit %q", string(c))
}

// scale returns whole.frac × unit in nanoseconds, or false on overflow or a
// fraction finer than a nanosecond.
func scale(whole, frac string, unit uint64) (uint64, bool) {
	n, err := strconv.ParseUint(whole, 10, 64)
	if err != nil || (unit != 0 && n > math.MaxUint64/unit) {
		return 0, false
	}
	v := n * unit
	if frac == "" {
		return v, true
	}
	if len(strings.TrimRight(frac, "0")) > 9 {
		return 0, false
	}
	frac = (frac + "000000000")[:9]
	f, err := strconv.ParseUint(frac, 10, 64)
	if err != nil || v+f < v {
		return 0, false
	}
	return v + f, true
}

// FormatDuration writes d as an ISO-8601 duration that ParseDuration reads
// back exactly: days, then hours, minutes and seconds with a fraction when
// needed, e.g. "PT2M", "P1DT2H", "PT1.5S"; zero is "PT0S".
func FormatDuration(d time.Duration) string {
	if d == 0 {
		return "PT0S"
	}
	var b strings.Builder
	u := uint64(d)
	if d < 0 {
		b.WriteByte('-')
		u = -u // two's complement: also right for math.MinInt64
	}
	const (
		day = uint64(24 * time.Hour)
		hr  = uint64(time.Hour)
		min = uint64(time.Minute)
		sec = uint64(time.Second)
	)
	b.WriteByte('P')
	if days := u / day; days > 0 {
		fmt.Fprintf(&b, "%dD", days)
	}
	u %= day
	if u == 0 {
		return b.String()
	}
	b.WriteByte('T')
	if h := u / hr; h > 0 {
		fmt.Fprintf(&b, "%dH", h)
	}
	u %= hr
	if m := u / min; m > 0 {
		fmt.Fprintf(&b, "%dM", m)
	}
	u %= min
	if u > 0 {
		fmt.Fprintf(&b, "%d", u/sec)
		if ns := u % sec; ns > 0 {
			b.WriteString(strings.TrimRight(fmt.Sprintf(".%09d", ns), "0"))
		}
		b.WriteByte('S')
	}
	return b.String()
}

// secondsDuration renders whole seconds as the SDKs do for scale-down times: PT120S.
func secondsDuration(n int) string { return fmt.Sprintf("PT%dS", n) }

// minutesDuration renders whole minutes as Studio does for idle shutdown: PT30M.
func minutesDuration(n int) string { return fmt.Sprintf("PT%dM", n) }
