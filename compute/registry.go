package compute

import (
	"errors"
	"fmt"
	"io"
)

// Capabilities declares what a backend can do beyond the Backend contract.
// A nil field means it cannot: the controller, the dispatcher and the pages
// leave that feature out for the backend's kinds. The fields are typed, so a
// backend that declares a capability it does not implement does not compile.
type Capabilities struct {
	// Power starts, stops and restarts compute instances.
	Power PowerController
	// Scale grows and shrinks clusters' nodes with demand.
	Scale Scaler
	// Health probes attached machines; without it they are never Unusable.
	Health HealthChecker
	// Unreachable reports a machine lost while a job ran on it.
	Unreachable UnreachableNotifier
	// Watcher tells when jobs it started end, so they need no polling.
	Watcher JobWatcher
	// Outputs brings back ./outputs and ./logs of jobs that ran elsewhere.
	Outputs OutputFetcher
	// HostKeys pins SSH host keys approved by an operator.
	HostKeys HostKeyApprover
	// SecretRotation drops cached connections after new credentials.
	SecretRotation ConnectionResetter
	// ScaleSettings reads and edits a scheduler's power-saving bounds.
	ScaleSettings PowerManager
	// Describe reads a scheduler's version and partitions; its targets'
	// nodes are refreshed by the node refresher.
	Describe Describer
	// NodeSampling counts nodes by state better than Nodes can.
	NodeSampling NodeSampler
	// Sessions opens terminals, SSH sessions and Jupyter on compute
	// instances; without it an instance has no applications.
	Sessions SessionOpener
	// Close releases what the backend holds open (pooled connections) when
	// the server stops.
	Close io.Closer
}

// Registration is one backend as the app knows it: the kinds of target it
// serves and what it can do. Each backend package builds its own
// (e.g. local.Backend.Registration) and the app hands them to NewRegistry.
type Registration struct {
	Backend      Backend
	Kinds        []Kind
	Capabilities Capabilities
}

// Registry answers, for a kind of target or a backend's name, which backend
// serves it and what that backend can do. It is built once at start and
// read-only after, so it is safe for concurrent use.
type Registry struct {
	all    []Registration
	byKind map[Kind]int
	byName map[string]int
}

// NewRegistry checks the registrations (each has a backend and at least one
// kind; no kind or backend name is registered twice) and indexes them.
func NewRegistry(regs ...Registration) (*Registry, error) {
	r := &Registry{byKind: map[Kind]int{}, byName: map[string]int{}}
	for i, reg := range regs {
		if reg.Backend == nil {
			return nil, errors.New("backend registry: a registration without a backend")
		}
		name := reg.Backend.Name()
		if len(reg.Kinds) == 0 {
			return nil, fmt.Errorf("backend registry: %s serves no kind", name)
		}
		if _, dup := r.byName[name]; dup {
			return nil, fmt.Errorf("backend registry: two backends are named %q", name)
		}
		r.byName[name] = i
		for _, k := range reg.Kinds {
			if _, dup := r.byKind[k]; dup {
				return nil, fmt.Errorf("backend registry: kind %s is served twice (again by %s)", k, name)
			}
			r.byKind[k] = i
		}
		r.all = append(r.all, reg)
	}
	return r, nil
}

// MustRegistry is NewRegistry for registrations fixed in code (tests, the
// app's own set), where an error is a programming mistake.
func MustRegistry(regs ...Registration) *Registry {
	r, err := NewRegistry(regs...)
	if err != nil {
		panic(err)
	}
	return r
}

// For returns the registration serving kind k; ok is false when no backend
// can reach that kind (the target is then recorded but never checked).
func (r *Registry) For(k Kind) (reg Registration, ok bool) {
	if r == nil {
		return Registration{}, false
	}
	i, ok := r.byKind[k]
	if !ok {
		return Registration{}, false
	}
	return r.all[i], true
}

// Backend returns the backend serving kind k, or nil.
func (r *Registry) Backend(k Kind) Backend {
	reg, _ := r.For(k)
	return reg.Backend
}

// Capabilities returns what the backend serving kind k can do (all nil when
// no backend serves it).
func (r *Registry) Capabilities(k Kind) Capabilities {
	reg, _ := r.For(k)
	return reg.Capabilities
}

// Named returns the registration of the backend called name (a Handle's
// Backend), whichever kinds it serves.
func (r *Registry) Named(name string) (reg Registration, ok bool) {
	if r == nil {
		return Registration{}, false
	}
	i, ok := r.byName[name]
	if !ok {
		return Registration{}, false
	}
	return r.all[i], true
}

// All returns every registration, in the order given to NewRegistry.
func (r *Registry) All() []Registration {
	if r == nil {
		return nil
	}
	return append([]Registration(nil), r.all...)
}

// KindsWith returns the kinds whose backend has the capability has reports.
func (r *Registry) KindsWith(has func(Capabilities) bool) []Kind {
	var out []Kind
	for _, reg := range r.All() {
		if has(reg.Capabilities) {
			out = append(out, reg.Kinds...)
		}
	}
	return out
}

// Close closes every backend that holds something open.
func (r *Registry) Close() error {
	var errs []error
	for _, reg := range r.All() {
		if c := reg.Capabilities.Close; c != nil {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
