package durable

import "sync/atomic"

// Batch commits a long run of outputs in chunks while they are still being made, so
// that waiting for the disk overlaps making the next ones instead of idling at the
// end. Each output still becomes visible only once it is on disk; a batch that is
// interrupted or fails to write keeps the chunks already committed, whole, and
// removes the rest.
type Batch struct {
	in     chan Pending
	commit bool // read by the goroutine after in is closed
	done   chan error
	failed atomic.Bool
	lost   []Pending // read after Finish
}

// NewBatch starts a batch of at most capacity outputs (Add never blocks) committed
// chunk at a time.
func NewBatch(capacity, chunk int) *Batch {
	b := &Batch{in: make(chan Pending, capacity), done: make(chan error, 1)}
	go func() {
		var pending []Pending
		var err error
		for p := range b.in {
			pending = append(pending, p)
			if len(pending) >= chunk && err == nil {
				if err = Commit(pending...); err != nil {
					Discard(pending...)
					b.lost = append(b.lost, pending...)
					b.failed.Store(true)
				}
				pending = pending[:0]
			}
		}
		if b.commit && err == nil {
			err = Commit(pending...)
		}
		if !b.commit || err != nil {
			Discard(pending...)
		}
		if b.commit && err != nil {
			b.lost = append(b.lost, pending...)
		}
		b.done <- err
	}()
	return b
}

// Add hands over one staged output.
func (b *Batch) Add(p Pending) { b.in <- p }

// Fail marks the batch as unable to write: makers of outputs stop (Failed).
func (b *Batch) Fail() { b.failed.Store(true) }

// Failed reports whether an output could not be written or committed: nothing more
// should be made.
func (b *Batch) Failed() bool { return b.failed.Load() }

// Lost lists, after Finish, the outputs that were added but not committed because a
// commit failed (not those an unfinished batch removed): made, but never written.
func (b *Batch) Lost() []Pending { return b.lost }

// Finish commits what is left (or, with commit false, discards it) and reports the
// first error of any chunk.
func (b *Batch) Finish(commit bool) error {
	b.commit = commit
	close(b.in)
	return <-b.done
}
