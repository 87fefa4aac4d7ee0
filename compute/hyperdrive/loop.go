package hyperdrive

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// ChildState is where a child run is, as the loop needs it.
type ChildState int

// The child states. Active covers every non-terminal run status (queued,
// preparing, running, finalizing, cancel requested).
const (
	ChildActive ChildState = iota
	ChildCompleted
	ChildFailed
	ChildCanceled
)

// Ended reports whether the child reached a terminal state.
func (s ChildState) Ended() bool { return s != ChildActive }

// Child is one child run as the loop sees it.
type Child struct {
	ID     string
	Index  int // proposal order: 0 for the first child
	Params Params
	State  ChildState
	// Metrics are the primary metric's values in logging order; value i is
	// interval i+1.
	Metrics []float64
	// PolicyCanceled says the early-termination policy cancelled it (the
	// caller stores this with the cancel reason, so it survives restarts).
	PolicyCanceled bool
	// Canceling says a cancel was requested and the run has not ended yet
	// (CancelRequested): it still holds a concurrency slot, but the loop
	// neither judges nor cancels it again.
	Canceling bool
}

// Score is the child's best primary metric (docs/design/hyperdrive.md §4.5), and
// whether it logged any.
func (c Child) Score(goal Goal) (float64, bool) {
	b := goal.Best(c.Metrics)
	return b, !math.IsNaN(b)
}

// Callbacks are the loop's only way to act: submit a child, cancel one,
// list them. The dispatcher implements them over real runs; tests over
// fakes.
type Callbacks struct {
	// Submit starts child index with params and returns its run ID.
	Submit func(index int, p Params) (string, error)
	// Cancel cancels the child with a reason shown on its page.
	Cancel func(id, reason string) error
	// List returns every child of the sweep.
	List func() ([]Child, error)
}

// Loop drives a sweep one Tick at a time: it decides which children to
// cancel by policy, how many to start, and when the sweep is over. It holds
// no state that matters across restarts beyond Start: after a restart a new
// Loop with the same sweep, seed and start time resumes from the children
// List returns, and the stateless samplers continue the same sequence.
type Loop struct {
	Sweep   *Sweep
	Sampler Sampler
	Start   time.Time
	Now     func() time.Time // the clock (a fake in tests)
	CB      Callbacks

	// evaluated is the last interval each child was judged at, so a log is
	// judged once; after a restart a child is judged again at its latest
	// qualifying interval, which gives the same verdict on the same data.
	evaluated map[string]int
}

// NewLoop validates the sweep and returns its loop.
func NewLoop(s *Sweep, start time.Time, now func() time.Time, cb Callbacks) (*Loop, error) {
	if _, err := s.Validate(); err != nil {
		return nil, err
	}
	smp, err := s.Sampler()
	if err != nil {
		return nil, err
	}
	if cb.Submit == nil || cb.Cancel == nil || cb.List == nil || now == nil {
		return nil, errors.New("hyperdrive: the loop needs Submit, Cancel, List and a clock")
	}
	return &Loop{Sweep: s, Sampler: smp, Start: start, Now: now, CB: cb, evaluated: map[string]int{}}, nil
}

// Progress is the sweep's state after a tick.
type Progress struct {
	Done      bool
	Reason    string // why the sweep ended (when Done)
	Submitted []string
	// Terminated are the children this tick cancelled by policy, by ID, with reasons.
	Terminated                                          map[string]string
	Active, Completed, Failed, Canceled, PolicyCanceled int
	Total                                               int
	BestID                                              string // "" until a child logged the metric
	BestScore                                           float64
}

// Tick looks at the children once and acts: on max_duration_minutes it
// cancels every active child and ends; else it applies the policy to each
// active child at its newly reached evaluation intervals, then starts
// children up to max_concurrent_runs while fewer than max_total_runs exist
// and the sampler has samples, and reports the sweep done when nothing is
// active and nothing more can start. An error from a callback ends the tick
// early; the next tick carries on.
func (l *Loop) Tick() (Progress, error) {
	s := l.Sweep
	pr := Progress{Terminated: map[string]string{}, BestScore: math.NaN()}
	children, err := l.CB.List()
	if err != nil {
		return pr, err
	}
	slices.SortStableFunc(children, func(a, b Child) int { return a.Index - b.Index })

	if l.Now().Sub(l.Start) >= time.Duration(s.DurationMinutes())*time.Minute {
		reason := fmt.Sprintf("Canceled: the sweep reached max_duration_minutes (%d)", s.DurationMinutes())
		for i, c := range children {
			if !c.State.Ended() && !c.Canceling {
				if err := l.CB.Cancel(c.ID, reason); err != nil {
					return pr, err
				}
				pr.Terminated[c.ID] = reason
				children[i].State = ChildCanceled
			}
		}
		l.count(&pr, children)
		pr.Done, pr.Reason = true, "max_duration_minutes reached"
		return pr, nil
	}

	if s.Policy.Active() {
		runs := make([]RunMetrics, len(children))
		for i, c := range children {
			runs[i] = RunMetrics{ID: c.ID, Values: c.Metrics, Ended: c.State.Ended()}
		}
		for i := range children {
			c := &children[i]
			if c.State.Ended() || c.Canceling {
				continue
			}
			from := l.evaluated[c.ID]
			l.evaluated[c.ID] = len(c.Metrics)
			for k := len(c.Metrics); k > from; k-- { // the latest qualifying interval
				if !s.Policy.Applies(k) {
					continue
				}
				d := s.Policy.Evaluate(s.Goal, runs, i, k)
				if d.Terminate {
					if err := l.CB.Cancel(c.ID, d.Reason); err != nil {
						return pr, err
					}
					pr.Terminated[c.ID] = d.Reason
					// Its job still runs until the cancel reaches it: it
					// keeps its concurrency slot (Canceling) this tick too.
					c.State, c.PolicyCanceled, c.Canceling = ChildCanceled, true, true
					runs[i].Ended = true
				}
				break
			}
		}
	}

	active := 0
	for _, c := range children {
		if !c.State.Ended() || c.Canceling {
			active++
		}
	}
	exhausted := false
	for active < s.ConcurrentRuns() && len(children) < s.MaxTotalRuns {
		p, err := l.Sampler.Next(l.history(children))
		if errors.Is(err, ErrExhausted) {
			exhausted = true
			break
		}
		if err != nil {
			return pr, err
		}
		id, err := l.CB.Submit(len(children), p)
		if err != nil {
			l.count(&pr, children)
			return pr, err
		}
		children = append(children, Child{ID: id, Index: len(children), Params: p, State: ChildActive})
		pr.Submitted = append(pr.Submitted, id)
		active++
	}
	l.count(&pr, children)
	if active == 0 {
		switch {
		case len(children) >= s.MaxTotalRuns:
			pr.Done, pr.Reason = true, fmt.Sprintf("max_total_runs (%d) reached", s.MaxTotalRuns)
		case exhausted:
			pr.Done, pr.Reason = true, fmt.Sprintf("the grid is exhausted after %d runs", len(children))
		}
	}
	return pr, nil
}

// Cancel cancels every active child with reason; the dispatcher calls it
// when the parent run is cancelled (decision: an explicit parent cancel
// cancels queued and running children, like the timeouts do — docs/design/hyperdrive.md §8.5).
func (l *Loop) Cancel(reason string) error {
	children, err := l.CB.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range children {
		if !c.State.Ended() && !c.Canceling {
			errs = append(errs, l.CB.Cancel(c.ID, reason))
		}
	}
	return errors.Join(errs...)
}

func (l *Loop) history(children []Child) []Trial {
	h := make([]Trial, len(children))
	for i, c := range children {
		h[i] = Trial{Params: c.Params, Ended: c.State.Ended(), Censored: c.State == ChildCanceled && c.PolicyCanceled}
		if v, ok := c.Score(l.Sweep.Goal); ok {
			h[i].Score = &v
		}
	}
	return h
}

func (l *Loop) count(pr *Progress, children []Child) {
	pr.Total = len(children)
	pr.Active, pr.Completed, pr.Failed, pr.Canceled, pr.PolicyCanceled = 0, 0, 0, 0, 0
	for _, c := range children {
		switch c.State {
		case ChildActive:
			pr.Active++
		case ChildCompleted:
			pr.Completed++
		case ChildFailed:
			pr.Failed++
		case ChildCanceled:
			pr.Canceled++
			if c.PolicyCanceled {
				pr.PolicyCanceled++
			}
		}
	}
	pr.BestID, pr.BestScore = BestChild(l.Sweep.Goal, children)
}

// BestChild is get_best_run_by_primary_metric with its defaults
// (docs/design/hyperdrive.md §4.5): the child whose best logged primary metric is best,
// failed and cancelled children included, children without the metric left
// out; on a tie the earliest child. It returns "" and NaN when none logged.
func BestChild(goal Goal, children []Child) (string, float64) {
	id, best, bestIdx := "", math.NaN(), 0
	for _, c := range children {
		v, ok := c.Score(goal)
		if !ok {
			continue
		}
		if id == "" || goal.Better(v, best) || (v == best && c.Index < bestIdx) {
			id, best, bestIdx = c.ID, v, c.Index
		}
	}
	return id, best
}
