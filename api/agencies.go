package api

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

// Agencies is the versioned list of agency identifier codes.
type Agencies interface {
	// AgencyAt returns the entry of code in force at at; none is fault.NotFound.
	AgencyAt(ctx context.Context, code string, at time.Time) (AgencyRecord, error)
	// ImportAgencies reads an agency list in CSV (code,name,parent_code,valid_from,
	// valid_to) and upserts it; a bad file is fault.Invalid naming its lines.
	ImportAgencies(ctx context.Context, actor Principal, csv io.Reader) (int, error)
}

// maxAgencyList bounds an uploaded agency list: the whole country's is a few MB.
const maxAgencyList = 16 << 20

// getAgency is GET /v1/agencies?code=...[&at=...].
func (s *Server) getAgency(c *gin.Context) {
	q, ok := queryOptions(c, "code", "at")
	if !ok {
		return
	}
	if q["code"] == "" {
		fail(c, probInvalidRequest, "Option \"code\" (an agency identifier code such as 000.00.00.H43) is required.")
		return
	}
	at := s.now()
	if q["at"] != "" {
		t, err := optionTime("at", q["at"])
		if err != nil {
			fail(c, probInvalidRequest, err.Error())
			return
		}
		at = t
	}
	a, err := s.agencies.AgencyAt(c.Request.Context(), q["code"], at)
	if err != nil {
		failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, a)
}

// importAgencies is POST /v1/agencies with a CSV body.
func (s *Server) importAgencies(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	if mt, _, _ := mime.ParseMediaType(c.GetHeader("Content-Type")); mt != "text/csv" {
		fail(c, probUnsupportedMedia, "Send the agency list as text/csv with the header code,name,parent_code,valid_from,valid_to.")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, maxAgencyList))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		fail(c, probUploadTooLarge, fmt.Sprintf("An agency list may be at most %d bytes.", maxAgencyList))
		return
	case err != nil:
		logger(c).LogAttrs(c.Request.Context(), slog.LevelInfo, "upload interrupted", slog.String("error", err.Error()))
		fail(c, probInvalidRequest, "The upload was interrupted before the whole body arrived.")
		return
	}
	p, _ := principal(c)
	n, err := s.agencies.ImportAgencies(c.Request.Context(), p, bytes.NewReader(body))
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("agencies imported", "entries", n)
	c.JSON(http.StatusOK, gin.H{"imported": n})
}
