package api

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Issuer issues documents. A document that is not approved is fault.Conflict; one
// whose leader's signature does not verify fault.BadDocument with the verdict.
type Issuer interface {
	IssueDocument(ctx context.Context, p Principal, id int64, req IssueRequest) (DocumentRecord, error)
}

type issueBody struct {
	Key         string    `json:"key"`
	Seal        string    `json:"seal"`
	SealSize    float64   `json:"seal_size"`
	Page        int       `json:"page"`
	Rect        []float64 `json:"rect"`
	NumberField string    `json:"number_field"`
	DateField   string    `json:"date_field"`
	Level       string    `json:"level"`
}

// issueDocument is POST /v1/documents/{id}/issue: body → key grant → issue.
func (s *Server) issueDocument(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	id, ok := documentID(c)
	if !ok {
		return
	}
	var b issueBody
	if !decodeJSON(c, &b) {
		return
	}
	req := IssueRequest{Key: b.Key, SealSize: b.SealSize, Page: b.Page, NumberField: b.NumberField, DateField: b.DateField, Level: b.Level}
	var bad string
	switch {
	case b.Key == "":
		bad = "Field \"key\" (the organisation's key) is required."
	case !slices.Contains(signLevels, b.Level):
		bad = "Field \"level\" must be B-B, B-T, B-LT or B-LTA."
	case b.SealSize < 0 || b.SealSize > 1000:
		bad = "Field \"seal_size\" is the seal's width in points, from 0 to 1000."
	case b.Page < 0:
		bad = "Field \"page\" must be a page number."
	case b.Rect != nil && len(b.Rect) != 4:
		bad = "Field \"rect\" must be four numbers [x1, y1, x2, y2]."
	case len(b.NumberField) > 128 || len(b.DateField) > 128:
		bad = "Template field names are at most 128 bytes."
	}
	if bad == "" && b.Rect != nil {
		copy(req.Rect[:], b.Rect)
		if req.Rect[2] <= req.Rect[0] || req.Rect[3] <= req.Rect[1] || req.Rect[0] < 0 || req.Rect[1] < 0 {
			bad = "Field \"rect\" must have 0 ≤ x1 < x2 and 0 ≤ y1 < y2."
		}
	}
	if bad == "" && b.Seal != "" {
		seal, err := base64.StdEncoding.DecodeString(b.Seal)
		if err != nil || !strings.HasPrefix(string(seal), "\x89PNG\r\n\x1a\n") {
			bad = "Field \"seal\" must be a PNG in standard base64."
		}
		req.Seal = seal
	}
	if bad != "" {
		fail(c, probInvalidRequest, bad)
		return
	}
	ctx := c.Request.Context()
	p, _ := principal(c)
	key, ok := s.grantedKey(c, p, req.Key)
	if !ok {
		return
	}
	rec, err := s.issuer.IssueDocument(ctx, p, id, req)
	if !s.signed(c, key.Name, err) {
		return
	}
	logger(c).Info("document issued", "document_id", rec.ID, "key", key.Name, "identifier", rec.Identifier)
	c.JSON(http.StatusOK, rec)
}
