package api

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/api/web"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// PageServices are the use-cases of the public web pages (api/web): verification of
// a PDF or a .p7s and the lookup of issued documents of public registers.
// *app.Service implements them.
type PageServices = web.Services

// mountPages serves the public pages: GET / (the verification form), POST / (a
// verification, a heavy public route under the same per-address rate and
// concurrency limits as POST /v1/verify), GET and POST /tra-cuu/{identifier} (the
// lookup verifies the issued version, so it is heavy too) and /static/. They are not
// in the route table: they are pages, not API, and openapi.json does not list them.
func (s *Server) mountPages(e *gin.Engine, svc PageServices) error {
	p, err := web.New(web.Options{
		Services: svc,
		Spool: func(r io.Reader, name, contentType string) (web.Upload, error) {
			up, err := s.spool(r, name, contentType)
			if err != nil {
				return nil, err
			}
			return up, nil
		},
		MaxUpload: s.maxUpload,
		Explain:   s.explain,
		Now:       s.now,
		Log:       s.log,
	})
	if err != nil {
		return err
	}
	// the limits' refusals (429, 503, 401) come as pages, not problem+json
	asPage := func(c *gin.Context) {
		c.Set(ctxPageProblem, func(status int, detail string) { p.Problem(c.Writer, c.Request, status, detail) })
		c.Next()
	}
	anyone := s.allow(RoleAdmin, RoleSystem, RoleClerk, RoleLeader, RolePublic)
	id := func(c *gin.Context) string { return strings.TrimPrefix(c.Param("id"), "/") }
	e.GET("/", gin.WrapF(p.Portal))
	e.POST("/", asPage, anyone, s.bounded, gin.WrapF(p.Verify))
	e.GET("/tra-cuu/*id", asPage, anyone, s.bounded, func(c *gin.Context) { p.Lookup(c.Writer, c.Request, id(c)) })
	e.POST("/tra-cuu/*id", asPage, anyone, s.bounded, func(c *gin.Context) { p.Compare(c.Writer, c.Request, id(c)) })
	e.GET("/static/*file", gin.WrapF(p.Static))
	return nil
}

// ctxPageProblem holds, for a page's request, how fail renders a problem as a page.
const ctxPageProblem = "kyso.page-problem"

// explain is the status and detail a page shows for err: the upload's own errors as
// uploadFail renders them, every other one as its problem.
func (s *Server) explain(err error) (int, string) {
	switch {
	case errors.Is(err, errTooLarge):
		return probUploadTooLarge.status, "Documents may be at most " + strconv.FormatInt(s.maxUpload, 10) + " bytes."
	case isTooSlow(err):
		return probTooSlow.status, fault.DetailOf(err)
	case errors.Is(err, errClientGone):
		return probInvalidRequest.status, "The upload was interrupted before the whole body arrived."
	}
	p := ProblemFor(err)
	if p.Status == 0 {
		p.Status = http.StatusInternalServerError
	}
	return p.Status, p.Detail
}
