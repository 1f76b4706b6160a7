package pdf

import (
	"bytes"
	"compress/zlib"
	"encoding/ascii85"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// ErrUnsupportedFilter: a stream uses a filter this package does not decode.
var ErrUnsupportedFilter = errors.New("pdf: unsupported stream filter")

// Len is the length of the stream's encoded data.
func (s *Stream) Len() int64 {
	if s.r == nil {
		return int64(len(s.Data))
	}
	return s.dataLen
}

// Offset is where the stream's data starts in the file (0 for streams to be written).
func (s *Stream) Offset() int64 { return s.dataOff }

// RawReader reads the stream's encoded data.
func (s *Stream) RawReader() io.Reader {
	if s.r == nil {
		return bytes.NewReader(s.Data)
	}
	return io.NewSectionReader(s.r.src.r, s.dataOff, s.dataLen)
}

// Decode returns the decoded data, refusing more than limit bytes (a guard against
// decompression bombs). The bytes decoded count against the file's budget.
func (s *Stream) Decode(limit int64) ([]byte, error) {
	var f *File
	if s.r != nil {
		f = s.r.file
	}
	return s.decode(s.r, f, limit, false)
}

// decode decodes the stream's data, resolving its filters in r (when not nil) and
// charging file (when not nil). With truncate, at most limit bytes are decoded and the
// rest is ignored; else more than limit bytes is an error.
func (s *Stream) decode(r *Reader, file *File, limit int64, truncate bool) ([]byte, error) {
	if file != nil {
		if err := file.checkNow(); err != nil {
			return nil, err
		}
	}
	if (truncate && s.Len() > maxObjSize<<2) || (!truncate && s.Len() > limit) {
		return nil, fmt.Errorf("pdf: stream of %d bytes exceeds the limit of %d", s.Len(), limit)
	}
	data, err := io.ReadAll(s.RawReader())
	if err != nil {
		return nil, err
	}
	resolve := func(o Object) Object {
		if r == nil {
			return o
		}
		v, err := r.Resolve(o)
		if err != nil {
			return nil
		}
		return v
	}
	var filters []Name
	var parms []Dict
	switch f := resolve(s.Dict["Filter"]).(type) {
	case Name:
		filters = []Name{f}
		if p, ok := resolve(s.Dict["DecodeParms"]).(Dict); ok {
			parms = []Dict{p}
		}
	case Array:
		pa, _ := resolve(s.Dict["DecodeParms"]).(Array)
		for i, e := range f {
			n, ok := resolve(e).(Name)
			if !ok {
				return nil, fmt.Errorf("%w: filter is not a name", ErrUnsupportedFilter)
			}
			filters = append(filters, n)
			var p Dict
			if i < len(pa) {
				p, _ = resolve(pa[i]).(Dict)
			}
			parms = append(parms, p)
		}
	}
	if len(filters) > 8 {
		return nil, fmt.Errorf("%w: more than 8 filters", ErrUnsupportedFilter)
	}
	if len(filters) == 0 {
		if truncate && int64(len(data)) > limit {
			data = data[:limit]
		}
		return data, nil
	}
	// what is decoded counts against the file's budget: no more than what remains of
	// it is decoded
	budgetBound := false
	if file != nil {
		if rem := file.remainingDecoded(); rem < limit {
			limit, budgetBound, truncate = rem, true, false
		}
	}
	for i, f := range filters {
		var p Dict
		if i < len(parms) {
			p = parms[i]
		}
		data, err = applyFilter(file, f, p, data, limit, truncate)
		if err != nil {
			if errors.Is(err, errDecodeLimit) && budgetBound {
				return nil, file.Fail(file.decodedLimitError())
			}
			if file != nil {
				if fe := file.Err(); fe != nil {
					return nil, fe
				}
			}
			return nil, err
		}
		if int64(len(data)) > limit {
			if budgetBound {
				return nil, file.Fail(file.decodedLimitError())
			}
			if !truncate {
				return nil, fmt.Errorf("%w of %d bytes", errDecodeLimit, limit)
			}
			data = data[:limit]
		}
	}
	if file != nil {
		if err := file.chargeDecoded(int64(len(data))); err != nil {
			return nil, err
		}
	}
	return data, nil
}

var errDecodeLimit = errors.New("pdf: decoded stream exceeds the limit")

// readAll is io.ReadAll in chunks joined once at the end: a large output costs twice
// its size at most, not the garbage of repeated growth.
func readAll(r io.Reader) ([]byte, error) {
	var parts [][]byte
	total := 0
	var err error
	for {
		chunk := min(max(total, 4<<10), 1<<20)
		b := make([]byte, chunk)
		n := 0
		for n < chunk && err == nil {
			var m int
			m, err = r.Read(b[n:])
			n += m
		}
		if n > 0 {
			parts = append(parts, b[:n])
			total += n
		}
		if err != nil {
			break
		}
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	if len(parts) == 1 && cap(parts[0]) <= 2*len(parts[0]) {
		return parts[0], err
	}
	out := make([]byte, 0, total)
	for i, p := range parts {
		out = append(out, p...)
		parts[i] = nil
	}
	return out, err
}

func applyFilter(file *File, f Name, p Dict, data []byte, limit int64, truncate bool) ([]byte, error) {
	switch f {
	case "FlateDecode", "Fl":
		zr, err := zlib.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("pdf: flate: %w", err)
		}
		var in io.Reader = zr
		if file != nil {
			in = &ctxReader{f: file, r: zr}
		}
		out, err := readAll(io.LimitReader(in, limit+1))
		if file != nil {
			if fe := file.Err(); fe != nil {
				return nil, fe
			}
		}
		if err != nil && len(out) == 0 {
			return nil, fmt.Errorf("pdf: flate: %w", err)
		}
		if int64(len(out)) > limit {
			if !truncate {
				return nil, fmt.Errorf("%w of %d bytes", errDecodeLimit, limit)
			}
			out = out[:limit]
		}
		return unpredict(p, out)
	case "ASCIIHexDecode", "AHx":
		clean := make([]byte, 0, len(data))
		for _, c := range data {
			if c == '>' {
				break
			}
			if !isSpace(c) {
				clean = append(clean, c)
			}
		}
		if len(clean)%2 == 1 {
			clean = append(clean, '0')
		}
		out := make([]byte, len(clean)/2)
		if _, err := hex.Decode(out, clean); err != nil {
			return nil, fmt.Errorf("pdf: asciihex: %w", err)
		}
		return out, nil
	case "ASCII85Decode", "A85":
		data = bytes.TrimSpace(data)
		data = bytes.TrimSuffix(data, []byte("~>"))
		out := make([]byte, 4*len(data)/5+4)
		n, _, err := ascii85.Decode(out, data, true)
		if err != nil {
			return nil, fmt.Errorf("pdf: ascii85: %w", err)
		}
		return out[:n], nil
	}
	return nil, fmt.Errorf("%w: %s", ErrUnsupportedFilter, f)
}

// unpredict reverses PNG (10–15) and TIFF (2) predictors.
func unpredict(p Dict, data []byte) ([]byte, error) {
	if p == nil {
		return data, nil
	}
	pred, _ := toInt(p["Predictor"])
	if pred <= 1 {
		return data, nil
	}
	colors, ok := toInt(p["Colors"])
	if !ok || colors < 1 {
		colors = 1
	}
	bpc, ok := toInt(p["BitsPerComponent"])
	if !ok || bpc < 1 {
		bpc = 8
	}
	cols, ok := toInt(p["Columns"])
	if !ok || cols < 1 {
		cols = 1
	}
	if colors > 64 || bpc > 16 || cols > 1<<20 {
		return nil, fmt.Errorf("pdf: predictor parameters out of range")
	}
	bpp := int((colors*bpc + 7) / 8)
	rowLen := int((colors*bpc*cols + 7) / 8)
	if pred == 2 {
		if bpc != 8 {
			return nil, fmt.Errorf("pdf: TIFF predictor with %d bits per component", bpc)
		}
		for r := 0; r+rowLen <= len(data); r += rowLen {
			for i := bpp; i < rowLen; i++ {
				data[r+i] += data[r+i-bpp]
			}
		}
		return data, nil
	}
	out := make([]byte, 0, len(data))
	prev := make([]byte, rowLen)
	for r := 0; r+1+rowLen <= len(data); r += 1 + rowLen {
		ft := data[r]
		row := append([]byte(nil), data[r+1:r+1+rowLen]...)
		for i := 0; i < rowLen; i++ {
			var a, b, c byte
			if i >= bpp {
				a = row[i-bpp]
				c = prev[i-bpp]
			}
			b = prev[i]
			switch ft {
			case 0:
			case 1:
				row[i] += a
			case 2:
				row[i] += b
			case 3:
				row[i] += byte((int(a) + int(b)) / 2)
			case 4:
				row[i] += paeth(a, b, c)
			default:
				return nil, fmt.Errorf("pdf: bad PNG predictor row type %d", ft)
			}
		}
		out = append(out, row...)
		prev = row
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	if pa <= pb && pa <= pc {
		return a
	}
	if pb <= pc {
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
