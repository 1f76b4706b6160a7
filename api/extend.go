package api

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// The headers of POST /v1/extend's answer. The body is the extended PDF either way;
// the status header says whether every signature got its validation data
// ("extended") or some did not ("extended-with-warnings"), and the unvalidated
// header names those as a JSON array, escaped to ASCII (a header carries no UTF-8).
const (
	headerExtendStatus = "Kyso-Extend-Status"
	headerUnvalidated  = "Kyso-Unvalidated"

	extendStatusComplete = "extended"
	extendStatusWarnings = "extended-with-warnings"
)

// extend is POST /v1/extend?level=B-LT|B-LTA: upload → extend into a temporary file →
// send it back with the status headers. Extending into a file first means a failure
// half-way is a clean problem response, not a truncated document.
func (s *Server) extend(c *gin.Context) {
	opts, ok := queryOptions(c, "level", "filename")
	if !ok {
		return
	}
	p, _ := principal(c)
	up, err := s.receive(c)
	if err != nil {
		s.uploadFail(c, err)
		return
	}
	defer up.Close()
	out, err := os.CreateTemp(s.tempDir, "extended-*")
	if err != nil {
		failErr(c, fmt.Errorf("api: temporary file: %w", err))
		return
	}
	_ = os.Remove(out.Name())
	defer out.Close()
	res, err := s.extender.ExtendDocument(c.Request.Context(), p, opts["level"], up, out)
	if err != nil {
		failErr(c, err)
		return
	}
	size, err := out.Seek(0, io.SeekEnd)
	if err == nil {
		_, err = out.Seek(0, io.SeekStart)
	}
	if err != nil {
		failErr(c, fmt.Errorf("api: extended output: %w", err))
		return
	}
	headers := map[string]string{
		"Content-Disposition": mime.FormatMediaType("attachment", map[string]string{"filename": extendedName(up.Filename(), opts["filename"])}),
		headerExtendStatus:    extendStatusComplete,
	}
	if !res.Complete() {
		headers[headerExtendStatus] = extendStatusWarnings
		headers[headerUnvalidated] = asciiJSON(res.Unvalidated)
		fields := make([]string, len(res.Unvalidated))
		for i, u := range res.Unvalidated {
			fields[i] = u.Field
		}
		logger(c).Warn("extended with warnings", "level", res.Level, "unvalidated", fields)
	}
	c.DataFromReader(http.StatusOK, size, "application/pdf", out, headers)
}

func extendedName(uploaded, asked string) string {
	name := asked
	if name == "" {
		name = uploaded
	}
	if name == "" {
		name = "document.pdf"
	}
	return strings.TrimSuffix(name, ".pdf") + ".extended.pdf"
}

// asciiJSON is v as JSON with every character outside printable ASCII escaped as
// \uXXXX, so that it can travel in a header; a reason is cut to 300 characters so
// that the header stays within what proxies pass.
func asciiJSON(us []UnvalidatedSignature) string {
	for i := range us {
		if r := []rune(us[i].Reason); len(r) > 300 {
			us[i].Reason = string(r[:300]) + "…"
		}
	}
	b, _ := json.Marshal(us)
	var sb strings.Builder
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		b = b[n:]
		switch {
		case r >= 0x20 && r < 0x7f:
			sb.WriteRune(r)
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(&sb, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(&sb, `\u%04x`, r)
		}
	}
	return sb.String()
}
