package cms

// Real-world signatures arrive in BER: indefinite lengths from streaming encoders,
// constructed OCTET STRINGs for embedded content, non-minimal length octets. The parser
// (cryptobyte) reads DER only, so the input is normalised first. Both passes are bounded
// in nesting depth, and the work is linear in the input for each level.

const (
	// MaxInputSize bounds what Parse accepts. A PAdES /Contents with a full chain, a
	// timestamp and revocation data is well under 1 MiB; 32 MiB leaves room for CRLs.
	MaxInputSize = 32 << 20
	maxDepth     = 64
	// Verification work grows with signers and certificates, so both are capped far
	// above real use (PAdES has one signer; an LTA chain a few dozen certificates).
	maxSignerInfos  = 64
	maxCertificates = 4096
	maxAttributes   = 1024
)

// toDER returns the DER form of the first BER element of in and the bytes after it.
// When the element is already DER it is returned as a sub-slice, without copying.
func toDER(in []byte) (der, rest []byte, err error) {
	n, ok, err := derLen(in, 0)
	if err != nil {
		return nil, nil, err
	}
	if ok {
		return in[:n], in[n:], nil
	}
	return convert(in, 0)
}

// header is one parsed identifier+length.
type header struct {
	tag         []byte // identifier octets as they appear
	constructed bool
	universal   int // the universal tag number, or -1 for other classes
	indefinite  bool
	length      int // content length when definite
	hdrLen      int
	minimal     bool // length octets are the shortest form
}

func readHeader(in []byte) (header, error) {
	var h header
	if len(in) < 2 {
		return h, formatErrorf("truncated element")
	}
	b0 := in[0]
	h.constructed = b0&0x20 != 0
	i := 1
	if b0&0x1f == 0x1f {
		// High tag number: base-128, at most 4 octets (tag numbers < 2^28).
		for {
			if i >= len(in) || i > 4 {
				return h, formatErrorf("bad tag")
			}
			c := in[i]
			i++
			if c&0x80 == 0 {
				break
			}
		}
		h.universal = -1
	} else if b0&0xc0 == 0 {
		h.universal = int(b0 & 0x1f)
	} else {
		h.universal = -1
	}
	h.tag = in[:i]
	if i >= len(in) {
		return h, formatErrorf("truncated length")
	}
	l := in[i]
	i++
	h.minimal = true
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return h, formatErrorf("indefinite length on a primitive element")
		}
		h.indefinite = true
	case l == 0xff:
		return h, formatErrorf("reserved length octet")
	default:
		n := int(l & 0x7f)
		if n > 4 || i+n > len(in) {
			return h, formatErrorf("length too long")
		}
		v := 0
		for j := 0; j < n; j++ {
			v = v<<8 | int(in[i+j])
		}
		i += n
		h.length = v
		h.minimal = v >= 0x80 && in[i-n] != 0
	}
	h.hdrLen = i
	if !h.indefinite && h.length > len(in)-i {
		return h, formatErrorf("element longer than its container")
	}
	return h, nil
}

// derLen reports the size of the first element of in and whether it is already DER in
// the respects normalisation fixes (lengths, constructed strings).
func derLen(in []byte, depth int) (int, bool, error) {
	if depth > maxDepth {
		return 0, false, formatErrorf("nested deeper than %d", maxDepth)
	}
	h, err := readHeader(in)
	if err != nil {
		return 0, false, err
	}
	if h.indefinite {
		return 0, false, nil
	}
	if !h.minimal || (h.constructed && (h.universal == 4 || h.universal == 3)) {
		return 0, false, nil
	}
	end := h.hdrLen + h.length
	if h.constructed {
		body := in[h.hdrLen:end]
		for len(body) > 0 {
			n, ok, err := derLen(body, depth+1)
			if err != nil || !ok {
				return 0, ok, err
			}
			body = body[n:]
		}
	}
	return end, true, nil
}

func convert(in []byte, depth int) ([]byte, []byte, error) {
	if depth > maxDepth {
		return nil, nil, formatErrorf("nested deeper than %d", maxDepth)
	}
	h, err := readHeader(in)
	if err != nil {
		return nil, nil, err
	}
	if !h.constructed {
		end := h.hdrLen + h.length
		return appendElement(nil, h.tag, in[h.hdrLen:end]), in[end:], nil
	}
	var body []byte
	var children [][]byte
	rest := in[h.hdrLen:]
	var inner []byte
	if h.indefinite {
		inner = rest
	} else {
		inner = rest[:h.length]
	}
	for {
		if h.indefinite {
			if len(inner) < 2 {
				return nil, nil, formatErrorf("missing end-of-contents")
			}
			if inner[0] == 0 && inner[1] == 0 {
				inner = inner[2:]
				break
			}
		} else if len(inner) == 0 {
			break
		}
		var child []byte
		child, inner, err = convert(inner, depth+1)
		if err != nil {
			return nil, nil, err
		}
		children = append(children, child)
	}
	if h.indefinite {
		rest = inner
	} else {
		rest = rest[h.length:]
	}
	tag := h.tag
	switch h.universal {
	case 4: // constructed OCTET STRING: DER wants the concatenated primitive form
		for _, c := range children {
			ch, err := readHeader(c)
			if err != nil || ch.constructed || ch.universal != 4 {
				return nil, nil, formatErrorf("constructed OCTET STRING with a non-OCTET STRING part")
			}
			body = append(body, c[ch.hdrLen:]...)
		}
		tag = []byte{0x04}
	case 3:
		return nil, nil, formatErrorf("constructed BIT STRING")
	default:
		for _, c := range children {
			body = append(body, c...)
		}
	}
	return appendElement(nil, tag, body), rest, nil
}

func appendElement(dst, tag, body []byte) []byte {
	dst = append(dst, tag...)
	n := len(body)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 1<<8:
		dst = append(dst, 0x81, byte(n))
	case n < 1<<16:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n < 1<<24:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, body...)
}
