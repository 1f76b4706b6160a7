package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// Upload is a received document: in memory when it is small (see spool), else in a
// temporary file that is unlinked as soon as it is created, so nothing is left on disk
// if the process dies mid-request. Close releases it.
type Upload struct {
	r           io.ReaderAt
	release     func() error
	size        int64
	filename    string
	contentType string
	sum         [32]byte
}

var _ Document = (*Upload)(nil)

func (u *Upload) ReadAt(p []byte, off int64) (int, error) { return u.r.ReadAt(p, off) }
func (u *Upload) Size() int64                             { return u.size }
func (u *Upload) Filename() string                        { return u.filename }
func (u *Upload) ContentType() string                     { return u.contentType }
func (u *Upload) SHA256() [32]byte                        { return u.sum }

// Close releases the temporary file or the memory.
func (u *Upload) Close() error { return u.release() }

// Uploads of at most smallUpload bytes are kept in memory, as long as all of them
// together stay within inMemoryBudget; the rest go to temporary files. A small PDF
// then costs no file creation (a tenth of a small signature's server time), and
// memory stays bounded however many clients send at once.
const (
	smallUpload    = 256 << 10
	inMemoryBudget = 64 << 20
)

// multipartSlack is what a multipart body may carry beyond the file: boundaries and
// part headers.
const multipartSlack = 64 << 10

// errTooLarge and errBadUpload are rendered by receive's callers through uploadFail.
var (
	errTooLarge   = errors.New("api: upload too large")
	errBadUpload  = errors.New("api: malformed upload")
	errMediaType  = errors.New("api: unsupported media type")
	errClientGone = errors.New("api: upload interrupted")
)

// badUpload is a malformed body, with the detail the caller is shown.
func badUpload(format string, args ...any) error {
	return fault.Wrap(fault.Invalid, errBadUpload, fmt.Sprintf(format, args...))
}

// receive streams the request's document into a temporary file, counting and hashing
// as it goes and stopping at s.maxUpload+1 bytes. The body is either the raw document
// (any content type but multipart/form-data and JSON) or multipart/form-data with one
// part named "file" and nothing else.
func (s *Server) receive(c *gin.Context) (*Upload, error) {
	r := c.Request
	limit := s.maxUpload
	if r.ContentLength > limit+multipartSlack {
		return nil, errTooLarge // refused before reading a byte
	}
	// Bounds the whole body even when Content-Length is absent (chunked), and makes the
	// server close the connection instead of draining a body it has refused.
	r.Body = http.MaxBytesReader(c.Writer, r.Body, limit+multipartSlack)

	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		mediaType = "application/octet-stream"
	}
	switch {
	case mediaType == "multipart/form-data":
		return s.receiveMultipart(r, params["boundary"])
	case mediaType == "application/json" || strings.HasPrefix(mediaType, "text/"):
		return nil, errMediaType
	}
	if r.ContentLength > limit {
		return nil, errTooLarge
	}
	name := c.Query("filename")
	if _, p, err := mime.ParseMediaType(r.Header.Get("Content-Disposition")); err == nil && p["filename"] != "" {
		name = p["filename"]
	}
	return s.spool(r.Body, filepath.Base(name), mediaType)
}

func (s *Server) receiveMultipart(r *http.Request, boundary string) (*Upload, error) {
	if boundary == "" {
		return nil, badUpload("multipart body without a boundary")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badUpload("%v", err)
	}
	var up *Upload
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if up != nil {
				up.Close()
			}
			return nil, bodyError(err)
		}
		if part.FormName() != "file" || up != nil {
			if up != nil {
				up.Close()
			}
			return nil, badUpload("unexpected part %q (send one part named \"file\"; options go in the query string)", part.FormName())
		}
		ct := part.Header.Get("Content-Type")
		if mt, _, err := mime.ParseMediaType(ct); err == nil {
			ct = mt
		} else {
			ct = "application/octet-stream"
		}
		up, err = s.spool(part, filepath.Base(part.FileName()), ct)
		if err != nil {
			return nil, err
		}
	}
	if up == nil {
		return nil, badUpload("no part named \"file\"")
	}
	return up, nil
}

// spool reads at most maxUpload bytes of r: into memory when the whole body is small
// and the budget allows, else into an unlinked temporary file.
func (s *Server) spool(r io.Reader, name, contentType string) (*Upload, error) {
	if name == "." || name == string(filepath.Separator) {
		name = ""
	}
	r = io.LimitReader(r, s.maxUpload+1)
	h := sha256.New()
	up := &Upload{filename: name, contentType: contentType}
	// First the head, in memory if the budget has room for a whole small upload.
	var head []byte
	if s.inMemory.Add(smallUpload) <= inMemoryBudget {
		head = make([]byte, smallUpload+1)
		n, err := io.ReadFull(r, head)
		head = head[:n]
		switch {
		case err == nil: // more than smallUpload bytes: a file after all
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			if n == 0 || int64(n) > s.maxUpload {
				s.inMemory.Add(-smallUpload)
				if n == 0 {
					return nil, badUpload("the document is empty")
				}
				return nil, errTooLarge
			}
			h.Write(head)
			up.r, up.size, up.sum = bytes.NewReader(head), int64(n), [32]byte(h.Sum(nil))
			up.release = func() error { s.inMemory.Add(-smallUpload); return nil }
			return up, nil
		default:
			s.inMemory.Add(-smallUpload)
			return nil, bodyError(err)
		}
	}
	s.inMemory.Add(-smallUpload) // reserved above, whether it was used or not
	f, err := os.CreateTemp(s.tempDir, "upload-*")
	if err != nil {
		return nil, fmt.Errorf("api: temporary file: %w", err)
	}
	_ = os.Remove(f.Name()) // keep the descriptor; the name is not needed any more
	n, err := io.Copy(io.MultiWriter(f, h), io.MultiReader(bytes.NewReader(head), r))
	if err != nil {
		f.Close()
		return nil, bodyError(err)
	}
	if n > s.maxUpload {
		f.Close()
		return nil, errTooLarge
	}
	if n == 0 {
		f.Close()
		return nil, badUpload("the document is empty")
	}
	up.r, up.release, up.size, up.sum = f, f.Close, n, [32]byte(h.Sum(nil))
	return up, nil
}

// bodyError sorts a failure while reading the body: over the limit, or the client or
// network failing (which is not the server's fault and is not a 500).
func bodyError(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return errTooLarge
	}
	if isTooSlow(err) {
		return errTooSlow
	}
	if strings.Contains(err.Error(), "multipart") {
		return badUpload("%v", err)
	}
	return fmt.Errorf("%w: %v", errClientGone, err)
}

// uploadFail renders an error from receive; a malformed body (badUpload) and a refused
// field (badOption) are Invalid faults and render as any other.
func (s *Server) uploadFail(c *gin.Context, err error) {
	switch {
	case errors.Is(err, errTooLarge):
		c.Header("Connection", "close")
		fail(c, probUploadTooLarge, fmt.Sprintf("Documents may be at most %d bytes.", s.maxUpload))
	case isTooSlow(err):
		c.Header("Connection", "close")
		fail(c, probTooSlow, fault.DetailOf(err))
	case errors.Is(err, errMediaType):
		fail(c, probUnsupportedMedia, "Send the document as the raw body (e.g. application/pdf) or as multipart/form-data with a part named \"file\".")
	case errors.Is(err, errClientGone):
		logger(c).Info("upload interrupted", "error", err.Error())
		fail(c, probInvalidRequest, "The upload was interrupted before the whole body arrived.")
	default:
		failErr(c, err)
	}
}

// maxJSONBody bounds JSON requests, which carry options and at most a signature.
const maxJSONBody = 1 << 20

// decodeJSON reads exactly one JSON object into v, refusing unknown fields (a
// misspelt option must not be silently ignored) and trailing data. On failure it has
// rendered the problem and returns false.
func decodeJSON(c *gin.Context, v any) bool {
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "application/json" {
		fail(c, probUnsupportedMedia, "Send the request body as application/json.")
		return false
	}
	body := http.MaxBytesReader(c.Writer, c.Request.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("trailing data after the JSON object")
	}
	if err == nil {
		return true
	}
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &mbe):
		fail(c, probUploadTooLarge, fmt.Sprintf("JSON bodies may be at most %d bytes.", maxJSONBody))
	case errors.As(err, &syn):
		fail(c, probInvalidJSON, fmt.Sprintf("Syntax error at byte %d.", syn.Offset))
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		fail(c, probInvalidJSON, "The body is empty or ends too early.")
	case errors.As(err, &typ):
		fail(c, probInvalidRequest, fmt.Sprintf("Field %q must be of type %s.", typ.Field, typ.Type))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		fail(c, probInvalidRequest, "Unknown field "+strings.TrimPrefix(err.Error(), "json: unknown field ")+".")
	default:
		fail(c, probInvalidJSON, "The body is not one JSON object.")
	}
	return false
}
