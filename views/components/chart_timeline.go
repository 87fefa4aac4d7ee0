package components

import (
	"fmt"
	"strings"
	"time"
)

// A run's status timeline: one bar per status, as wide as the status lasted
// (with a minimum so a status of a few milliseconds stays visible), each
// with a <title> naming the status, its times and its reason. The ordered
// list the run page prints under it says the same in words.

const (
	timelineW    = 960.0
	timelineH    = 72.0
	timelineBarY = 4.0
	timelineBarH = 26.0
	timelineMinW = 12.0
	// timelineLabelW is the narrowest bar that gets its status written
	// under it (the words are larger on phones).
	timelineLabelW = 150.0
)

// TimelineEvent is one status change.
type TimelineEvent struct {
	Status string
	Time   time.Time
	Reason string
}

// Timeline is a run's status history up to End (the end of the run, or now
// while it is active).
type Timeline struct {
	ID     string
	Events []TimelineEvent
	End    time.Time
	// Ended is true when the last status is terminal: it is drawn as a short
	// end mark, not as a span up to End.
	Ended bool
}

// TimelineBar is one status as drawn.
type TimelineBar struct {
	X, W   float64
	Status string
	// Label is written under a wide enough bar: the status and how long it
	// lasted ("Running 8.1s"), so an ended run's long Running bar does not
	// read as its current status.
	Label     string
	Title     string
	Class     string // Tailwind fill class from the status's tone
	ShowLabel bool
}

// TimelineLayout is a Timeline's computed geometry.
type TimelineLayout struct {
	ID         string
	Desc       string
	W, H       float64
	BarY, BarH float64
	LabelY     float64
	Bars       []TimelineBar
}

// Layout computes the bars.
func (t Timeline) Layout() TimelineLayout {
	l := TimelineLayout{ID: t.ID, W: timelineW, H: timelineH, BarY: timelineBarY, BarH: timelineBarH, LabelY: timelineBarY + timelineBarH + 32}
	n := len(t.Events)
	if n == 0 {
		l.Desc = "No status changes recorded."
		return l
	}
	durs := make([]time.Duration, n)
	var total time.Duration
	for i, ev := range t.Events {
		end := t.End
		if i+1 < n {
			end = t.Events[i+1].Time
		}
		if i == n-1 && t.Ended {
			end = ev.Time
		}
		if d := end.Sub(ev.Time); d > 0 {
			durs[i] = d
			total += d
		}
	}
	spare := timelineW - float64(n)*timelineMinW
	x := 0.0
	var words []string
	for i, ev := range t.Events {
		w := timelineMinW
		switch {
		case total > 0:
			w += spare * float64(durs[i]) / float64(total)
		case !(i == n-1 && t.Ended):
			w += spare / float64(n)
		}
		if i == n-1 && t.Ended && total > 0 {
			w = timelineMinW
		}
		title := timelineTitle(ev, durs[i], i == n-1, t.Ended)
		label := ev.Status
		if durs[i] > 0 {
			label += " " + FormatDuration(durs[i])
		}
		l.Bars = append(l.Bars, TimelineBar{X: x, W: w, Status: ev.Status, Label: label, Title: title, Class: barClass(ToneFor(ev.Status)), ShowLabel: w >= timelineLabelW})
		words = append(words, title)
		x += w
	}
	// An ended run's bars may not fill the width: stretch them to it.
	if x > 0 && x < timelineW {
		k := timelineW / x
		for i := range l.Bars {
			l.Bars[i].X *= k
			l.Bars[i].W *= k
			l.Bars[i].ShowLabel = l.Bars[i].W >= timelineLabelW
		}
	}
	l.Desc = strings.Join(words, "; ") + "."
	return l
}

func timelineTitle(ev TimelineEvent, d time.Duration, last, ended bool) string {
	at := ev.Time.UTC().Format("15:04:05")
	var s string
	switch {
	case last && ended:
		s = fmt.Sprintf("%s at %s UTC", ev.Status, at)
	case last:
		s = fmt.Sprintf("%s since %s UTC (%s so far)", ev.Status, at, FormatDuration(d))
	default:
		s = fmt.Sprintf("%s from %s UTC for %s", ev.Status, at, FormatDuration(d))
	}
	if ev.Reason != "" {
		s += ": " + ev.Reason
	}
	return s
}

func barClass(t Tone) string {
	switch t {
	case ToneOK:
		return "fill-green-700 dark:fill-green-500"
	case ToneBusy:
		return "fill-blue-600 dark:fill-blue-400"
	case ToneBad:
		return "fill-red-700 dark:fill-red-400"
	case ToneWarn:
		return "fill-amber-500"
	}
	return "fill-gray-500"
}
