package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"sync"
	"time"
)

// draftTTL is how long secrets typed in a wizard wait for its Create step.
const draftTTL = 30 * time.Minute

// drafts keeps the secrets typed in a multi-step wizard on the server, so no
// step ever renders a password back into the page. They live in memory only:
// a restart merely asks the user to type them again.
type drafts struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]draft
}

type draft struct {
	owner   string
	secrets map[string]string
	expires time.Time
}

func newDrafts(now func() time.Time) *drafts { return &drafts{now: now, m: map[string]draft{}} }

// put stores secrets for owner under id (a new id when id is unknown) and
// returns the id. Empty values keep what was typed before.
func (d *drafts) put(owner, id string, secrets map[string]string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire()
	cur, ok := d.m[id]
	if !ok || cur.owner != owner {
		b := make([]byte, 18)
		_, _ = rand.Read(b)
		id = base64.RawURLEncoding.EncodeToString(b)
		cur = draft{owner: owner, secrets: map[string]string{}}
	}
	for k, v := range secrets {
		if v != "" {
			cur.secrets[k] = v
		}
	}
	cur.expires = d.now().Add(draftTTL)
	d.m[id] = cur
	return id
}

// get returns the secrets of a draft that belongs to owner.
func (d *drafts) get(owner, id string) map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.expire()
	cur, ok := d.m[id]
	if !ok || cur.owner != owner {
		return map[string]string{}
	}
	out := make(map[string]string, len(cur.secrets))
	for k, v := range cur.secrets {
		out[k] = v
	}
	return out
}

// drop forgets a draft once its target was created.
func (d *drafts) drop(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, id)
}

func (d *drafts) expire() {
	now := d.now()
	for id, dr := range d.m {
		if now.After(dr.expires) {
			delete(d.m, id)
		}
	}
}
