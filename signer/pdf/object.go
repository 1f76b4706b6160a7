// Package pdf reads PDF files without holding them in memory and writes incremental
// updates that keep the original bytes as an untouched prefix. It is the low-level
// layer under the PAdES signer and the verifier: objects, the lexer, cross-reference
// tables and streams (classic, stream, hybrid), object streams, revisions, and the
// incremental-update writer.
//
// It must never panic on malformed input: every error is returned, every loop and every
// recursion is bounded. The readers of one file (its revisions, its repair) share a
// File: one budget (Limits: revisions, objects, cross-reference entries, decoded bytes,
// the context's deadline), one cache of cross-reference sections, parsed objects and
// decoded object streams. It imports the standard library and pkg/fault only.
package pdf

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"unicode/utf16"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// Object is one of: nil (null), bool, int64, float64, Name, String, Array, Dict, Ref,
// *Stream, or Raw (bytes written verbatim, for placeholders).
type Object any

// Name is a PDF name, without the leading slash, decoded (#xx resolved).
type Name string

// String is a PDF string's bytes, as stored (after escape decoding).
type String []byte

// Array is a PDF array.
type Array []Object

// Dict is a PDF dictionary.
type Dict map[Name]Object

// Ref is an indirect reference.
type Ref struct {
	Num int
	Gen int
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// Raw is written verbatim by the writer; it is how placeholders of a fixed width (the
// signature's /Contents and /ByteRange) are laid out.
type Raw []byte

// Stream is a stream object: its dictionary and where its data lies. Streams read from a
// file keep their data in the file; streams made for writing carry Data.
type Stream struct {
	Dict Dict
	// Data is the stream's (encoded) data for a stream to be written.
	Data []byte

	r       *Reader
	dataOff int64
	dataLen int64
}

// TextString encodes s as a PDF text string: PDFDocEncoding-compatible ASCII as is,
// anything else as UTF-16BE with a byte-order mark (the writer emits it as a hex string,
// so no byte can break the dictionary).
func TextString(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 || s[i] < 0x20 {
			ascii = false
			break
		}
	}
	if ascii {
		return String(s)
	}
	u := utf16.Encode([]rune(s))
	b := make([]byte, 2, 2+2*len(u))
	b[0], b[1] = 0xFE, 0xFF
	for _, c := range u {
		b = append(b, byte(c>>8), byte(c))
	}
	return String(b)
}

// DecodeText decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, else
// PDFDocEncoding, approximated by Latin-1).
func DecodeText(s String) string {
	b := []byte(s)
	if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
		b = b[2:]
		u := make([]uint16, 0, len(b)/2)
		for i := 0; i+1 < len(b); i += 2 {
			u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
		}
		return string(utf16.Decode(u))
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// Marshal writes o in PDF syntax. Dictionary keys are written sorted, so the output is
// deterministic.
func Marshal(w io.Writer, o Object) error {
	var b bytes.Buffer
	if err := appendObject(&b, o, 0); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// MarshalBytes is Marshal into a new byte slice.
func MarshalBytes(o Object) ([]byte, error) {
	var b bytes.Buffer
	err := appendObject(&b, o, 0)
	return b.Bytes(), err
}

const maxDepth = 64

func appendObject(b *bytes.Buffer, o Object, depth int) error {
	if depth > maxDepth {
		return fmt.Errorf("pdf: object nested deeper than %d", maxDepth)
	}
	switch v := o.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int:
		b.WriteString(strconv.Itoa(v))
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxReal {
			return badDocument("the number %v cannot be written in a PDF", v)
		}
		b.WriteString(formatReal(v))
	case Name:
		appendName(b, v)
	case String:
		appendString(b, v)
	case Raw:
		b.Write(v)
	case Ref:
		fmt.Fprintf(b, "%d %d R", v.Num, v.Gen)
	case Array:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteByte(' ')
			}
			if err := appendObject(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Dict:
		return appendDict(b, v, depth)
	case *Stream:
		if v.r != nil {
			return fmt.Errorf("pdf: a stream read from a file cannot be written inline")
		}
		d := Dict{}
		for k, e := range v.Dict {
			d[k] = e
		}
		d["Length"] = int64(len(v.Data))
		if err := appendDict(b, d, depth); err != nil {
			return err
		}
		b.WriteString("\nstream\n")
		b.Write(v.Data)
		b.WriteString("\nendstream")
	case keyword:
		// a bare word where a value belongs (1e309, a stray "obj"): the document is
		// not PDF there, and writing it back would make it worse
		return badDocument("the document holds %q where a value belongs", shorten(string(v)))
	default:
		return fmt.Errorf("pdf: cannot write a %T", o)
	}
	return nil
}

// badDocument is a BadDocument fault caused by ErrDamaged.
func badDocument(format string, a ...any) error {
	return fault.Wrap(fault.BadDocument, ErrDamaged, fmt.Sprintf(format, a...))
}

// maxReal is the largest real a PDF reader must accept (ISO 32000-1, annex C).
const maxReal = 3.403e38

func shorten(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

func appendDict(b *bytes.Buffer, d Dict, depth int) error {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, string(k))
	}
	sort.Strings(keys)
	b.WriteString("<<")
	for _, k := range keys {
		appendName(b, Name(k))
		b.WriteByte(' ')
		if err := appendObject(b, d[Name(k)], depth+1); err != nil {
			return err
		}
	}
	b.WriteString(">>")
	return nil
}

func formatReal(f float64) string {
	s := strconv.FormatFloat(f, 'f', 4, 64)
	s = trimZeros(s)
	if s == "-0" {
		return "0"
	}
	return s
}

func trimZeros(s string) string {
	if !bytes.ContainsRune([]byte(s), '.') {
		return s
	}
	for len(s) > 0 && s[len(s)-1] == '0' {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	return s
}

func appendName(b *bytes.Buffer, n Name) {
	b.WriteByte('/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || isDelim(c) || c == '#' {
			fmt.Fprintf(b, "#%02X", c)
			continue
		}
		b.WriteByte(c)
	}
}

// appendString writes printable ASCII strings as literals and anything else as hex, so
// that no byte of a UTF-16 string can end the string early (pdfsign's defect).
func appendString(b *bytes.Buffer, s String) {
	printable := true
	for _, c := range s {
		if c < 0x20 || c > 0x7e {
			printable = false
			break
		}
	}
	if !printable {
		b.WriteByte('<')
		const hx = "0123456789ABCDEF"
		for _, c := range s {
			b.WriteByte(hx[c>>4])
			b.WriteByte(hx[c&15])
		}
		b.WriteByte('>')
		return
	}
	b.WriteByte('(')
	for _, c := range s {
		if c == '(' || c == ')' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte(')')
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\r', '\n', '\f', 0:
		return true
	}
	return false
}
