package pdf

import (
	"context"
	"errors"
	"io"
	"math"
	"sync"
	"time"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// Limits bound the work of reading one file, summed over every reader of it (every
// revision the verifier opens, every repair). A zero field takes its default. Each
// limit has a configuration key under verify: in kyso.yaml, named in the error that
// reports it (a fault.TooLarge with code "limit/<name>").
type Limits struct {
	// MaxRevisions bounds the revisions of a file: the sections of one cross-reference
	// chain, and the states (%%EOF markers that open as a document) a verifier reads.
	// Key verify.max_revisions, default 1,000.
	MaxRevisions int
	// MaxObjects bounds the objects read from a file: each object parsed, and each
	// object a revision's reader resolves. Key verify.max_objects, default 2,000,000.
	MaxObjects int
	// MaxXrefEntries bounds the cross-reference entries read, over every section and
	// every repair. Key verify.max_xref_entries, default 2,000,000.
	MaxXrefEntries int
	// MaxDecodedBytes bounds the bytes decoded from streams (decompressed object and
	// cross-reference streams, validation data), in total over the file. Key
	// verify.max_decoded_bytes, default 256 MiB.
	MaxDecodedBytes int64
	// Timeout bounds the time one verification may take; the reader sees it through
	// its context. Key verify.timeout, default 60 s.
	Timeout time.Duration
}

// The defaults: sized so that every file of the shared corpus and every file Kyso signs
// verifies with room to spare (no corpus file uses a tenth of any: the most are 50
// revisions and 13,758 objects read, in dss-25-signatures.pdf, 3,725 cross-reference
// entries and 133 KB decoded; signer/verify's TestCorpusWithinLimits keeps it so),
// while one hostile file stays within a few hundred MiB and a minute.
const (
	DefaultMaxRevisions    = 1000
	DefaultMaxObjects      = 2_000_000
	DefaultMaxXrefEntries  = 2_000_000
	DefaultMaxDecodedBytes = 256 << 20
	DefaultTimeout         = 60 * time.Second
)

// DefaultLimits are the limits a zero Limits stands for.
func DefaultLimits() Limits {
	return Limits{MaxRevisions: DefaultMaxRevisions, MaxObjects: DefaultMaxObjects,
		MaxXrefEntries: DefaultMaxXrefEntries, MaxDecodedBytes: DefaultMaxDecodedBytes, Timeout: DefaultTimeout}
}

// WithDefaults fills the zero fields with the defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultLimits()
	if l.MaxRevisions <= 0 {
		l.MaxRevisions = d.MaxRevisions
	}
	if l.MaxObjects <= 0 {
		l.MaxObjects = d.MaxObjects
	}
	if l.MaxXrefEntries <= 0 {
		l.MaxXrefEntries = d.MaxXrefEntries
	}
	if l.MaxDecodedBytes <= 0 {
		l.MaxDecodedBytes = d.MaxDecodedBytes
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	return l
}

// LimitError is the error for an exceeded limit: a fault.TooLarge naming the limit
// and its configuration key, with code "limit/<name>".
func LimitError(name, key, what string, limit any) error {
	return fault.WithCode(fault.Errorf(fault.TooLarge,
		"the document exceeds a limit: %s (at most %v; configuration key %s)", what, limit, key), "limit/"+name)
}

const (
	// objCacheBytes bounds the bytes of the file whose parsed objects the shared object
	// cache keeps; objStmCacheBytes the decoded object streams kept.
	objCacheBytes    = 64 << 20
	objStmCacheBytes = 64 << 20
)

// File is one file read by any number of readers (its revisions, its repair): they
// share its budget, its block cache, the cross-reference sections and the objects they
// parse, so that reading N revisions costs about what reading the newest one does.
// Readers of one File must not be used concurrently.
type File struct {
	ctx    context.Context
	lim    Limits
	blocks *blockCache
	r      io.ReaderAt
	size   int64

	mu sync.Mutex
	// err is sticky: once a limit is exceeded or the context is done, every read fails
	// with it, so that a caller that swallows one error still sees it (Err).
	err       error
	objects   int
	entries   int
	decoded   int64
	ops       int
	objs      map[int64]*cachedObj // by absolute offset of "N G obj"
	objsBytes int64
	stms      map[string]*objStm // decoded object streams, by where and how they are written
	stmOrder  []string
	stmBytes  int64
	sections  map[int64]*xrefSection // by absolute offset
	layers    map[int64]*xrefLayer   // by absolute offset of the top section
	repair    *repairIndex
}

// NewFile starts reading the first size bytes of r under ctx and lim (zero fields:
// defaults). The context's end stops every reader of the file.
func NewFile(ctx context.Context, r io.ReaderAt, size int64, lim Limits) *File {
	if ctx == nil {
		ctx = context.Background()
	}
	return &File{ctx: ctx, lim: lim.WithDefaults(), r: r, size: size, blocks: newBlockCache(r, size),
		objs: map[int64]*cachedObj{}, stms: map[string]*objStm{}, sections: map[int64]*xrefSection{}, layers: map[int64]*xrefLayer{}}
}

// Limits are the file's limits, defaults filled in.
func (f *File) Limits() Limits { return f.lim }

// Usage tells what the file's readers have used of the budget so far.
func (f *File) Usage() (objects, entries int, decoded int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects, f.entries, f.decoded
}

// Err is the first limit exceeded, or the context's end, or nil.
func (f *File) Err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// Fail records err as the file's sticky error (the first one wins) and returns the
// recorded one.
func (f *File) Fail(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
	return f.err
}

// ContextError turns the end of ctx into a fault: the cause the context was given
// when it is a fault (the verifier's own timeout names verify.timeout), else Timeout
// or Canceled.
func ContextError(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	var fe *fault.Error
	if c := context.Cause(ctx); errors.As(c, &fe) {
		return c
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fault.Wrap(fault.Timeout, err, "reading the document took longer than allowed")
	}
	return fault.Wrap(fault.Canceled, err, "reading the document was interrupted")
}

// check is called in every loop: it reports the sticky error, and looks at the
// context every 256 calls.
func (f *File) check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.ops++
	if f.ops&255 == 0 {
		if err := ContextError(f.ctx); err != nil {
			f.err = err
		}
	}
	return f.err
}

// Check reports the file's sticky error, looking at the context first: callers that
// loop over what readers give them call it now and then.
func (f *File) Check() error { return f.checkNow() }

// checkNow looks at the context at once (before an expensive step).
func (f *File) checkNow() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		if err := ContextError(f.ctx); err != nil {
			f.err = err
		}
	}
	return f.err
}

func (f *File) chargeObjects(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.objects += n
	if f.objects > f.lim.MaxObjects {
		f.err = LimitError("objects", "verify.max_objects", "more objects than the reader may read", f.lim.MaxObjects)
	}
	return f.err
}

func (f *File) chargeEntries(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.entries += n
	if f.entries > f.lim.MaxXrefEntries {
		f.err = LimitError("xref-entries", "verify.max_xref_entries", "more cross-reference entries than the reader may read", f.lim.MaxXrefEntries)
	}
	return f.err
}

// remainingEntries is how many more cross-reference entries may be read.
func (f *File) remainingEntries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(0, f.lim.MaxXrefEntries-f.entries)
}

func (f *File) decodedLimitError() error {
	return LimitError("decoded-bytes", "verify.max_decoded_bytes", "more bytes decoded from streams than the reader may decode", f.lim.MaxDecodedBytes)
}

// remainingDecoded is how many more bytes may be decoded.
func (f *File) remainingDecoded() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return max(0, f.lim.MaxDecodedBytes-f.decoded)
}

func (f *File) chargeDecoded(n int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	f.decoded += n
	if f.decoded > f.lim.MaxDecodedBytes {
		f.err = f.decodedLimitError()
	}
	return f.err
}

func (f *File) revisionsError() error {
	return LimitError("revisions", "verify.max_revisions", "more revisions than the reader may read", f.lim.MaxRevisions)
}

// RevisionsError is the error for a file with more than MaxRevisions revisions,
// recorded as the file's sticky error.
func (f *File) RevisionsError() error { return f.Fail(f.revisionsError()) }

// cachedObj is an object parsed at an offset of the file, with what its parse
// depended on: the bytes before reach (a reader of fewer bytes parses it again), and
// the value of an indirect /Length.
type cachedObj struct {
	ref    Ref
	obj    Object
	reach  int64
	lenRef int   // the number of an indirect /Length, or -1
	lenVal int64 // what that /Length resolved to (-1: nothing usable)
	cost   int64
}

func (f *File) cachedObject(pos int64) *cachedObj {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objs[pos]
}

func (f *File) storeObject(pos int64, c *cachedObj) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objsBytes+c.cost > objCacheBytes {
		// the cache is a bound, not an archive: start again (what is dropped is read
		// again, and counted again)
		f.objs = map[int64]*cachedObj{}
		f.objsBytes = 0
	}
	f.objs[pos] = c
	f.objsBytes += c.cost
}

func (f *File) cachedStm(pos string) *objStm {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stms[pos]
}

func (f *File) storeStm(pos string, s *objStm) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.stms[pos]; ok {
		return
	}
	n := int64(len(s.data)) + 64*int64(len(s.offsets))
	if n > objStmCacheBytes/8 {
		return // object streams hold small objects; a huge one is decoded where used
	}
	for len(f.stmOrder) > 0 && f.stmBytes+n > objStmCacheBytes {
		old := f.stmOrder[0]
		f.stmOrder = f.stmOrder[1:]
		if o := f.stms[old]; o != nil {
			f.stmBytes -= int64(len(o.data)) + 64*int64(len(o.offsets))
			delete(f.stms, old)
		}
	}
	f.stms[pos] = s
	f.stmOrder = append(f.stmOrder, pos)
	f.stmBytes += n
}

// blockCache holds recently read blocks of the file for every view of it.
type blockCache struct {
	r     io.ReaderAt
	size  int64
	mu    sync.Mutex
	cache map[int64][]byte
	order []int64
}

func newBlockCache(r io.ReaderAt, size int64) *blockCache {
	return &blockCache{r: r, size: size, cache: map[int64][]byte{}}
}

// ctxReader checks the file's budget while a decompressor reads.
type ctxReader struct {
	f *File
	r io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.f.checkNow(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// poisoned is the reach of a parse that ran into the end of its view: no other view
// may reuse it.
const poisoned = math.MaxInt64
