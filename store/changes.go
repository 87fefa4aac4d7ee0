package store

import (
	"context"
	"sync"
	"sync/atomic"
)

// ChangeKind says what kind of object a Change is about.
type ChangeKind string

const (
	// ChangeCompute: a compute target was created, changed (state, scale,
	// nodes, node history) or deleted.
	ChangeCompute ChangeKind = "compute"
	// ChangeRun: a run was created or changed (status, params, tags,
	// metrics, log, output files).
	ChangeRun ChangeKind = "run"
)

// Change says one object changed, after the change is committed. It carries
// no content: a subscriber reads what it shows again, through the same
// checks as any read. Pages use it to update within milliseconds of a change
// instead of polling (docs/ARCHITECTURE.md, "Live pages").
type Change struct {
	Kind ChangeKind
	// Name is the compute target's name or the run's id.
	Name string
	// Target is the compute target a run is on ("" for a compute change).
	Target string
	// Parent is a child run's parent (sweep) run id.
	Parent string
}

// subscriberBuffer is how many changes a subscriber may fall behind by before
// it is told it lost some (Subscription.Lost) rather than slow the writer.
const subscriberBuffer = 256

// Subscription receives the changes committed after Subscribe returned, until
// its context ends.
type Subscription struct {
	// C delivers changes in commit order. It is closed when the context
	// given to Subscribe ends.
	C <-chan Change
	// lost is set when a change could not be delivered because C was full.
	lost *atomic.Bool
}

// Lost reports, and clears, whether changes were dropped because the
// subscriber fell behind; the subscriber should then re-read everything it
// shows.
func (s Subscription) Lost() bool { return s.lost.Swap(false) }

// changeFeed fans committed changes out to subscribers. A writer never waits
// for a subscriber: a full subscriber is marked as having lost changes.
type changeFeed struct {
	mu   sync.Mutex
	subs map[*subscriber]struct{}
}

type subscriber struct {
	ch   chan Change
	lost atomic.Bool
}

// Subscribe starts delivering committed changes to the returned Subscription
// until ctx ends.
func (s *Store) Subscribe(ctx context.Context) Subscription {
	sub := &subscriber{ch: make(chan Change, subscriberBuffer)}
	f := &s.feed
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[*subscriber]struct{})
	}
	f.subs[sub] = struct{}{}
	f.mu.Unlock()
	go func() {
		<-ctx.Done()
		f.mu.Lock()
		delete(f.subs, sub)
		close(sub.ch)
		f.mu.Unlock()
	}()
	return Subscription{C: sub.ch, lost: &sub.lost}
}

// announce tells every subscriber about committed changes. Call it only
// after the transaction that made them has committed.
func (s *Store) announce(changes ...Change) {
	// Some changes are files, not rows (a run's outputs, log, artifacts):
	// the version moves for them too, before anyone is told, so a page
	// cached at the old version is not served for the new content.
	s.version.Add(1)
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	for sub := range f.subs {
		for _, c := range changes {
			select {
			case sub.ch <- c:
			default:
				sub.lost.Store(true)
			}
		}
	}
}

// runChange is the Change for a run.
func runChange(id, target, parent string) Change {
	return Change{Kind: ChangeRun, Name: id, Target: target, Parent: parent}
}

// computeChange is the Change for a compute target.
func computeChange(name string) Change {
	return Change{Kind: ChangeCompute, Name: name}
}

// announceRun announces a change to the run with this id whose target and
// parent the caller does not have at hand (metrics, logs, files); it reads
// them only when someone is listening.
func (s *Store) announceRun(ctx context.Context, id string) {
	s.version.Add(1) // as in announce, even when nobody listens
	s.feed.mu.Lock()
	listening := len(s.feed.subs) > 0
	s.feed.mu.Unlock()
	if !listening {
		return
	}
	var target, parent string
	err := s.reader.QueryRowContext(ctx, `SELECT target, parent_id FROM runs WHERE id = ?`, id).Scan(&target, &parent)
	if err != nil {
		// The change is committed; a run that cannot be read now is still
		// announced, to the pages that watch it by id.
		s.log.Debug("announcing a run change", "run", id, "err", err)
	}
	s.announce(runChange(id, target, parent))
}
