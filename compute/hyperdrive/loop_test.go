package hyperdrive

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fakeRuns is an in-memory set of children with a fake clock.
type fakeRuns struct {
	now      time.Time
	children []Child
	canceled map[string]string
	failNext error
}

func newFake() *fakeRuns {
	return &fakeRuns{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), canceled: map[string]string{}}
}

func (f *fakeRuns) callbacks() Callbacks {
	return Callbacks{
		Submit: func(i int, p Params) (string, error) {
			if err := f.failNext; err != nil {
				f.failNext = nil
				return "", err
			}
			id := fmt.Sprintf("c%d", i)
			f.children = append(f.children, Child{ID: id, Index: i, Params: p})
			return id, nil
		},
		Cancel: func(id, reason string) error {
			for i := range f.children {
				if f.children[i].ID == id {
					f.children[i].State = ChildCanceled
					f.children[i].PolicyCanceled = strings.Contains(reason, "Policy")
				}
			}
			f.canceled[id] = reason
			return nil
		},
		List: func() ([]Child, error) {
			out := make([]Child, len(f.children))
			for i, c := range f.children {
				c.Metrics = append([]float64(nil), c.Metrics...)
				out[i] = c
			}
			return out, nil
		},
	}
}

func (f *fakeRuns) log(id string, v ...float64) {
	for i := range f.children {
		if f.children[i].ID == id {
			f.children[i].Metrics = append(f.children[i].Metrics, v...)
		}
	}
}

func (f *fakeRuns) end(id string, st ChildState) {
	for i := range f.children {
		if f.children[i].ID == id {
			f.children[i].State = st
		}
	}
}

func tick(t *testing.T, l *Loop) Progress {
	t.Helper()
	p, err := l.Tick()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoopConcurrencyAndTotal(t *testing.T) {
	f := newFake()
	s := &Sweep{Space: Space{{"--a", mustExpr(t, Uniform, 0.0, 1.0)}}, Sampling: SamplingRandom, Seed: 1,
		PrimaryMetric: "acc", Goal: Maximize, MaxTotalRuns: 5, MaxConcurrentRuns: 2}
	l, err := NewLoop(s, f.now, func() time.Time { return f.now }, f.callbacks())
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		act                       func()
		submitted                 []string
		active, total, done, fail int
	}{
		{func() {}, []string{"c0", "c1"}, 2, 2, 0, 0},
		{func() {}, nil, 2, 2, 0, 0}, // nothing ended: nothing starts
		{func() { f.log("c0", 0.5); f.end("c0", ChildCompleted) }, []string{"c2"}, 2, 3, 0, 0},
		{func() { f.end("c1", ChildFailed); f.end("c2", ChildCompleted) }, []string{"c3", "c4"}, 2, 5, 0, 1},
		{func() { f.log("c4", 0.9); f.end("c3", ChildCompleted) }, nil, 1, 5, 0, 1}, // max_total_runs: no more
		{func() { f.end("c4", ChildCompleted) }, nil, 0, 5, 1, 1},
	}
	for i, st := range steps {
		st.act()
		p := tick(t, l)
		if !reflect.DeepEqual(p.Submitted, st.submitted) || p.Active != st.active || p.Total != st.total || p.Done != (st.done == 1) || p.Failed != st.fail {
			t.Fatalf("step %d: %+v", i, p)
		}
	}
	p := tick(t, l)
	if p.BestID != "c4" || p.BestScore != 0.9 || p.Reason != "max_total_runs (5) reached" || p.Completed != 4 {
		t.Errorf("end: %+v", p)
	}
	// Children got the sampler's params for their index, in order.
	for i, c := range f.children {
		want, _ := (&RandomSampler{Space: s.Space, Seed: 1}).Next(make([]Trial, i))
		if !reflect.DeepEqual(c.Params, want) {
			t.Errorf("child %d params %v, want %v", i, c.Params, want)
		}
	}
}

func TestLoopGridEndAndRestart(t *testing.T) {
	f := newFake()
	s := &Sweep{Space: Space{{"--a", mustExpr(t, Choice, 1.0, 2.0, 3.0)}}, Sampling: SamplingGrid,
		PrimaryMetric: "loss", Goal: Minimize, MaxTotalRuns: 10, MaxConcurrentRuns: 2}
	now := func() time.Time { return f.now }
	l, _ := NewLoop(s, f.now, now, f.callbacks())
	tick(t, l)
	f.log("c0", 3, 2)
	f.end("c0", ChildCompleted)
	// A restart: a new loop over the same children continues the grid.
	l2, _ := NewLoop(s, f.now, now, f.callbacks())
	p := tick(t, l2)
	if !reflect.DeepEqual(p.Submitted, []string{"c2"}) {
		t.Fatalf("after restart %+v", p)
	}
	if v, _ := f.children[2].Params.Get("--a"); v.Num != 3 {
		t.Errorf("third grid point %v", v)
	}
	f.log("c1", 1.5)
	f.end("c1", ChildCompleted)
	f.end("c2", ChildFailed)
	p = tick(t, l2)
	if !p.Done || p.Reason != "the grid is exhausted after 3 runs" || p.BestID != "c1" || p.BestScore != 1.5 {
		t.Errorf("grid end %+v", p)
	}
}

func TestLoopPolicyAndDuration(t *testing.T) {
	f := newFake()
	s := &Sweep{Space: Space{{"--a", mustExpr(t, Uniform, 0.0, 1.0)}}, Sampling: SamplingRandom,
		Policy:        Policy{Kind: Bandit, EvaluationInterval: 2, DelayEvaluation: 2, SlackAmount: 0.2},
		PrimaryMetric: "acc", Goal: Maximize, MaxTotalRuns: 4, MaxConcurrentRuns: 3, MaxDurationMinutes: 30}
	l, _ := NewLoop(s, f.now, func() time.Time { return f.now }, f.callbacks())
	tick(t, l)
	f.log("c0", 0.5)
	f.log("c1", 0.1) // interval 1: not evaluated (interval 2, delay 2)
	if p := tick(t, l); len(p.Terminated) != 0 {
		t.Fatalf("interval 1 judged: %+v", p)
	}
	f.log("c0", 0.8)
	f.log("c1", 0.55) // interval 2: B = 0.8, threshold 0.6, best 0.55 → cancel
	f.log("c2", 0.7, 0.65)
	p := tick(t, l)
	want := "Canceled by BanditPolicy at interval 2: its best primary metric 0.55 is lower than 0.8 − 0.2 = 0.6 (best run's value at interval 2, slack amount 0.2)"
	if p.Terminated["c1"] != want || len(p.Terminated) != 1 || f.canceled["c1"] != want {
		t.Fatalf("policy: %+v", p.Terminated)
	}
	// The cancelled child keeps its slot until it has ended (its job may
	// still run): no replacement in the same tick.
	if len(p.Submitted) != 0 || p.PolicyCanceled != 1 {
		t.Fatalf("the cancelled child's slot was reused before it ended: %+v", p)
	}
	p = tick(t, l)
	if len(p.Terminated) != 0 { // interval 2 is judged once
		t.Fatalf("judged twice: %+v", p)
	}
	if !reflect.DeepEqual(p.Submitted, []string{"c3"}) { // c1 has ended
		t.Fatalf("replacement: %+v", p)
	}
	f.now = f.now.Add(30 * time.Minute)
	p = tick(t, l)
	if !p.Done || p.Reason != "max_duration_minutes reached" || len(p.Terminated) != 3 ||
		f.canceled["c3"] != "Canceled: the sweep reached max_duration_minutes (30)" || p.Active != 0 {
		t.Errorf("duration: %+v", p)
	}
}

func TestLoopErrorsAndCancel(t *testing.T) {
	f := newFake()
	s := &Sweep{Space: Space{{"--a", mustExpr(t, Uniform, 0.0, 1.0)}}, Sampling: SamplingRandom,
		PrimaryMetric: "acc", Goal: Maximize, MaxTotalRuns: 4, MaxConcurrentRuns: 2}
	if _, err := NewLoop(&Sweep{}, f.now, time.Now, f.callbacks()); err == nil {
		t.Error("invalid sweep accepted")
	}
	if _, err := NewLoop(s, f.now, nil, f.callbacks()); err == nil {
		t.Error("no clock accepted")
	}
	l, _ := NewLoop(s, f.now, func() time.Time { return f.now }, f.callbacks())
	f.failNext = errors.New("target gone")
	if _, err := l.Tick(); err == nil || err.Error() != "target gone" {
		t.Fatalf("submit error: %v", err)
	}
	p := tick(t, l) // the next tick carries on
	if !reflect.DeepEqual(p.Submitted, []string{"c0", "c1"}) {
		t.Fatalf("%+v", p)
	}
	f.end("c0", ChildCompleted)
	f.children = append(f.children, Child{ID: "x", Index: 2, Canceling: true})
	if err := l.Cancel("Canceled: the parent run was canceled"); err != nil {
		t.Fatal(err)
	}
	if len(f.canceled) != 1 || f.canceled["c1"] == "" {
		t.Errorf("parent cancel: %v", f.canceled)
	}
}

func TestBestChild(t *testing.T) {
	cs := []Child{
		{ID: "a", Index: 0, Metrics: []float64{0.2, 0.9, 0.1}, State: ChildFailed},
		{ID: "b", Index: 1},
		{ID: "c", Index: 2, Metrics: []float64{0.9}, State: ChildCanceled},
		{ID: "d", Index: 3, Metrics: []float64{0.05}, State: ChildCompleted},
	}
	if id, v := BestChild(Maximize, cs); id != "a" || v != 0.9 {
		t.Errorf("maximize: %s %v (tie goes to the earliest; failed runs count)", id, v)
	}
	if id, v := BestChild(Minimize, cs); id != "d" || v != 0.05 {
		t.Errorf("minimize: %s %v", id, v)
	}
	if id, _ := BestChild(Maximize, cs[1:2]); id != "" {
		t.Errorf("no metric: %q", id)
	}
}

// TestLoopCancelRequested: a child whose cancel is pending keeps its slot
// and is not judged again.
func TestLoopCancelRequested(t *testing.T) {
	f := newFake()
	s := &Sweep{Space: Space{{"--a", mustExpr(t, Uniform, 0.0, 1.0)}}, Sampling: SamplingRandom,
		Policy:        Policy{Kind: Bandit, EvaluationInterval: 1, SlackAmount: 0.1},
		PrimaryMetric: "acc", Goal: Maximize, MaxTotalRuns: 4, MaxConcurrentRuns: 2}
	l, _ := NewLoop(s, f.now, func() time.Time { return f.now }, f.callbacks())
	tick(t, l)
	f.log("c0", 0.9)
	f.log("c1", 0.1)
	f.children[1].Canceling = true // the dispatcher reports CancelRequested
	p := tick(t, l)
	if len(p.Terminated) != 0 || len(p.Submitted) != 0 || p.Active != 2 {
		t.Errorf("cancel requested: %+v", p)
	}
}
