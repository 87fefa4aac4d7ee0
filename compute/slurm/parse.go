package slurm

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// maxHosts bounds a hostlist expansion: "n[1-999999999]" is valid Slurm
// syntax but must not make the server allocate a billion strings.
const maxHosts = 100000

// expandHostlist expands a Slurm hostlist expression ("node[1-3,5]",
// "gpu[01-02]-ib,login1", "r[1-2]n[1-2]") into host names, in order, with
// the zero padding of the range kept ("n[08-10]" → n08 n09 n10).
func expandHostlist(expr string) ([]string, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "(null)" {
		return nil, nil
	}
	var hosts []string
	for _, item := range splitTop(expr, ',', '[', ']') {
		if item == "" {
			continue
		}
		var err error
		hosts, err = expandItem(hosts, "", item)
		if err != nil {
			return nil, fmt.Errorf("hostlist %q: %w", expr, err)
		}
	}
	return hosts, nil
}

// splitTop splits s at sep outside open/close brackets.
func splitTop(s string, sep, open, close byte) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case open:
			depth++
		case close:
			if depth > 0 {
				depth--
			}
		case sep:
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

// expandItem appends prefix+expansion(item) to hosts.
func expandItem(hosts []string, prefix, item string) ([]string, error) {
	open := strings.IndexByte(item, '[')
	if open < 0 {
		if strings.IndexByte(item, ']') >= 0 {
			return nil, errors.New("unbalanced ]")
		}
		if len(hosts) >= maxHosts {
			return nil, fmt.Errorf("more than %d hosts", maxHosts)
		}
		return append(hosts, prefix+item), nil
	}
	end := strings.IndexByte(item[open:], ']')
	if end < 0 {
		return nil, errors.New("unbalanced [")
	}
	end += open
	head, ranges, tail := item[:open], item[open+1:end], item[end+1:]
	if strings.IndexByte(head, ']') >= 0 || strings.IndexByte(ranges, '[') >= 0 {
		return nil, errors.New("unbalanced brackets")
	}
	if ranges == "" {
		return nil, errors.New("empty []")
	}
	for _, r := range strings.Split(ranges, ",") {
		lo, hi, found := strings.Cut(r, "-")
		if !found {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 != nil || err2 != nil || a < 0 || b < a || lo == "" || hi == "" || lo[0] == '+' || hi[0] == '+' {
			return nil, fmt.Errorf("bad range %q", r)
		}
		if b-a >= maxHosts {
			return nil, fmt.Errorf("more than %d hosts", maxHosts)
		}
		width := 0
		if len(lo) > 1 && lo[0] == '0' {
			width = len(lo)
		}
		for n := a; n <= b; n++ {
			num := strconv.Itoa(n)
			if len(num) < width {
				num = strings.Repeat("0", width-len(num)) + num
			}
			var err error
			hosts, err = expandItem(hosts, prefix+head+num, tail)
			if err != nil {
				return nil, err
			}
		}
	}
	return hosts, nil
}

// gresGPUs counts the GPUs in a node's gres string: "gpu:2" → 2,
// "gpu:a100:4(S:0)" → 4, "gpu:tesla:2,mps:100" → 2, "gpu" → 1,
// "gpu:a100:2(S:0-1),gpu:v100:1" → 3, "" / "(null)" → 0.
func gresGPUs(gres string) (int, error) {
	gres = strings.TrimSpace(gres)
	if gres == "" || gres == "(null)" {
		return 0, nil
	}
	total := 0
	for _, item := range splitTop(gres, ',', '(', ')') {
		item = strings.TrimSpace(item)
		if i := strings.IndexByte(item, '('); i >= 0 {
			item = item[:i]
		}
		if item == "" {
			continue
		}
		fields := strings.Split(item, ":")
		name := strings.TrimPrefix(fields[0], "gres/")
		if name != "gpu" {
			continue
		}
		n := 1
		switch len(fields) {
		case 1:
		case 2, 3:
			last := fields[len(fields)-1]
			c, ok := gresCount(last)
			switch {
			case ok:
				n = c
			case len(fields) == 2: // "gpu:a100": a type, one GPU
			default:
				return 0, fmt.Errorf("gres %q: bad count %q", gres, last)
			}
		default:
			return 0, fmt.Errorf("gres %q: too many fields in %q", gres, item)
		}
		if total+n > 1<<20 {
			return 0, fmt.Errorf("gres %q: implausible GPU count", gres)
		}
		total += n
	}
	return total, nil
}

// gresCount reads a gres count with Slurm's optional K/M/G suffix.
func gresCount(s string) (int, bool) {
	mult := 1
	if s != "" {
		switch s[len(s)-1] {
		case 'k', 'K':
			mult = 1 << 10
		case 'm', 'M':
			mult = 1 << 20
		case 'g', 'G':
			mult = 1 << 30
		}
		if mult != 1 {
			s = s[:len(s)-1]
		}
	}
	if s == "" || s[0] == '+' || s[0] == '-' {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > (1<<20)/mult {
		return 0, false
	}
	return n * mult, true
}
