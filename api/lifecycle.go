package api

import (
	"context"
	"net/http"

	"github.com/gin-gonic/gin"
)

// Lifecycle is the later life of a document: back to draft, recalled, replaced
// (app/lifecycle.go). Only a leader or a clerk of the issuing agency may; the refusal
// of anyone else is the use-case's.
type Lifecycle interface {
	ReturnToDraft(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error)
	Recall(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error)
	Replace(ctx context.Context, p Principal, id int64, req LifecycleRequest) (DocumentRecord, error)
}

// lifecycleHandler is POST /v1/documents/{id}/return-to-draft, /recall and /replace:
// body → use-case → the document's record.
func (s *Server) lifecycleHandler(act func(Lifecycle, context.Context, Principal, int64, LifecycleRequest) (DocumentRecord, error), needsBy bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		if _, ok := queryOptions(c); !ok {
			return
		}
		id, ok := documentID(c)
		if !ok {
			return
		}
		var b LifecycleRequest
		if !decodeJSON(c, &b) {
			return
		}
		switch {
		case b.Reason == "":
			fail(c, probInvalidRequest, "Field \"reason\" is required.")
			return
		case needsBy && b.ReplacedBy <= 0:
			fail(c, probInvalidRequest, "Field \"replaced_by\" (the id of the issued document that replaces this one) is required.")
			return
		case !needsBy && b.ReplacedBy != 0:
			fail(c, probInvalidRequest, "Field \"replaced_by\" belongs to a replacement (POST …/replace).")
			return
		}
		p, _ := principal(c)
		rec, err := act(s.lifecycle, c.Request.Context(), p, id, b)
		if err != nil {
			failErr(c, err)
			return
		}
		logger(c).Info("document lifecycle", "document_id", rec.ID, "path", c.FullPath())
		c.JSON(http.StatusOK, rec)
	}
}
