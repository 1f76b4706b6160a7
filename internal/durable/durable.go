// Package durable writes Kyso's output files so that each appears whole or not at
// all, and stays after a power cut: it is written to a temporary file beside its
// target (mode 0600 while it is being written), flushed to disk, renamed over the
// target, and the directory is flushed so that the new name is on disk too. Every
// file Kyso writes for a user (signed documents, .p7s, downloads, edXML packets,
// CSRs, the agent's configuration) and every blob the store keeps goes through here.
//
// A batch commits many outputs at once (Commit, Batch): their data is flushed with
// one syncfs per directory instead of one fsync each, then they are renamed.
//
// It is a leaf: it imports no Kyso package.
package durable

import (
	"errors"
	"io"
	"os"
	"path/filepath"
)

// TempPrefix begins the name of every temporary file made here, so that a listing
// can tell them from outputs.
const TempPrefix = ".kyso-"

// File is an output being written: a temporary file beside its target. Commit makes
// it the target; Discard removes it. Deferring Discard after Create is always safe.
type File struct {
	*os.File
	target string
	perm   os.FileMode
	done   bool // staged, committed or discarded
}

// Create starts the output target, to be given mode perm (less the umask, as
// os.WriteFile would) when it is committed.
func Create(target string, perm os.FileMode) (*File, error) {
	f, err := CreateIn(filepath.Dir(target), perm)
	if err != nil {
		return nil, err
	}
	f.target = target
	return f, nil
}

// CreateIn starts an output in dir whose name is known only once it is written (a
// content address): Stage it and name the target with Pending.As.
func CreateIn(dir string, perm os.FileMode) (*File, error) {
	tmp, err := os.CreateTemp(dir, TempPrefix+"*")
	if err != nil {
		return nil, err
	}
	return &File{File: tmp, perm: perm}, nil
}

// Commit flushes the file, renames it over its target and flushes the directory.
// On any error the temporary file is removed and the target is left as it was.
func (f *File) Commit() error {
	if f.target == "" {
		f.Discard()
		return errors.New("durable: commit of a file with no target")
	}
	p, err := f.stage(true)
	if err != nil {
		return err
	}
	if err := rename(p); err != nil {
		Discard(p)
		return err
	}
	return nil
}

// Stage closes the written file without flushing it: it waits, invisible, for
// Commit (or Discard) together with others. On an error the file is removed.
func (f *File) Stage() (Pending, error) { return f.stage(false) }

// stage gives the file its mode, flushes it when sync is set (after the mode, so
// that the mode is on disk too), and closes it.
func (f *File) stage(sync bool) (Pending, error) {
	if f.done {
		return Pending{}, errors.New("durable: file already staged or discarded")
	}
	f.done = true
	err := f.Chmod(f.perm &^ umask)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return Pending{}, err
	}
	return Pending{tmp: f.Name(), target: f.target}, nil
}

// Discard removes the temporary file unless it was staged or committed.
func (f *File) Discard() {
	if f == nil || f.done {
		return
	}
	f.done = true
	f.Close()
	os.Remove(f.Name())
}

// Pending is an output written but not yet durable: a staged temporary file to be
// renamed over its target, or a file changed in place (Append).
type Pending struct {
	tmp, target string
}

// Target is where the output appears once committed.
func (p Pending) Target() string { return p.target }

// As is p committed to target instead (a name known only after writing).
func (p Pending) As(target string) Pending {
	p.target = target
	return p
}

// Append writes data at the end of the file at path with one write, and cuts the
// file back to its old length when that fails. Commit then flushes it.
func Append(path string, data []byte) (Pending, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return Pending{}, err
	}
	st, err := f.Stat()
	if err == nil {
		if _, err = f.Write(data); err != nil {
			_ = f.Truncate(st.Size())
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Pending{}, err
	}
	return Pending{target: path}, nil
}

// fsyncEachUpTo is the most outputs Commit flushes one by one (fsync: their own data
// only). More share one syncfs per directory, so that a chunk of a batch pays for one
// journal commit, not one per output; syncfs also flushes whatever else waits on that
// file system, which a single large output should not have to wait for.
const fsyncEachUpTo = 4

// Commit makes the pending outputs durable and visible: their data is flushed, the
// staged files are renamed over their targets, and the targets' directories are
// flushed. Until the renames no target holds a partial output. On an error the
// caller Discards what is left.
func Commit(ps ...Pending) error {
	dirs := map[string]bool{}
	for _, p := range ps {
		dirs[filepath.Dir(p.target)] = true
	}
	if len(ps) <= fsyncEachUpTo || !haveSyncfs {
		for _, p := range ps {
			path := p.tmp
			if path == "" {
				path = p.target
			}
			if err := syncPath(path); err != nil {
				return err
			}
		}
	} else {
		for d := range dirs {
			if err := syncFS(d); err != nil {
				return err
			}
		}
	}
	for _, p := range ps {
		if p.tmp == "" {
			continue
		}
		if err := os.Rename(p.tmp, p.target); err != nil {
			return err
		}
	}
	for d := range dirs {
		if err := SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// rename puts one flushed, staged file in place and flushes its directory.
func rename(p Pending) error {
	if err := os.Rename(p.tmp, p.target); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(p.target))
}

// Discard removes staged files that will not be committed (one already renamed is
// left alone).
func Discard(ps ...Pending) {
	for _, p := range ps {
		if p.tmp != "" {
			os.Remove(p.tmp)
		}
	}
}

// WriteFile writes data to target durably, with mode perm (less the umask).
func WriteFile(target string, data []byte, perm os.FileMode) error {
	return Write(target, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write writes target durably with what write writes; nothing appears at target
// when write fails.
func Write(target string, perm os.FileMode, write func(w io.Writer) error) error {
	f, err := Create(target, perm)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Discard()
		return err
	}
	return f.Commit()
}

func syncPath(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
