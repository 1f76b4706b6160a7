package api

import (
	"context"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/api/office"
	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// OfficeServices are the use-cases of the office pages (api/office); *app.Service
// implements them.
type OfficeServices = office.Services

// officeClient carries the request's address (as the public's limit keys it) into
// the office pages, which do not see gin's context.
type officeClient struct{}

// mountOffice serves /van-phong/: the office pages authenticate with the API's own
// key lookup (a key typed at sign-in, then its hash on every request), spool uploads
// like the API and render errors with the API's mapping of faults. They are pages,
// not API: openapi.json does not list them.
func (s *Server) mountOffice(e *gin.Engine, svc OfficeServices, agentURL string) error {
	lookup := func(ctx context.Context, hash string) (Principal, error) {
		p, err := s.clients.LookupByKeyHash(ctx, hash)
		if err != nil {
			return Principal{}, err
		}
		p.Surface = app.SurfaceWeb
		return p, nil
	}
	of, err := office.New(office.Options{
		Services: svc,
		Authenticate: func(ctx context.Context, key string) (Principal, string, error) {
			if !apiKeyShape.MatchString(key) {
				return Principal{}, "", fault.New(fault.Unauthenticated, "not a Kyso API key")
			}
			hash := HashAPIKey(key)
			p, err := lookup(ctx, hash)
			return p, hash, err
		},
		Resolve: lookup,
		ClientKey: func(r *http.Request) string {
			k, _ := r.Context().Value(officeClient{}).(string)
			return k
		},
		Spool: func(r io.Reader, name, contentType string) (office.Upload, error) {
			up, err := s.spool(r, name, contentType)
			if err != nil {
				return nil, err
			}
			return up, nil
		},
		MaxUpload: s.maxUpload,
		Explain:   s.explain,
		AgentURL:  agentURL,
		Now:       s.now,
		Log:       s.log,
	})
	if err != nil {
		return err
	}
	serve := func(c *gin.Context) {
		ctx := context.WithValue(c.Request.Context(), officeClient{}, limitKey(client(c)))
		of.ServeHTTP(c.Writer, c.Request.WithContext(ctx))
	}
	asPage := func(c *gin.Context) {
		c.Set(ctxPageProblem, func(status int, detail string) { of.Problem(c.Writer, c.Request, status, detail) })
		c.Next()
	}
	e.GET("/van-phong", func(c *gin.Context) { c.Redirect(http.StatusMovedPermanently, "/van-phong/") })
	e.GET("/van-phong/*rest", serve)
	// uploads, approvals and issues sign and verify: under the heavy routes' cap
	e.POST("/van-phong/*rest", asPage, s.bounded, serve)
	return nil
}
