package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPISpec is written by hand; TestOpenAPIMatchesRoutes keeps it and the route
// table in step, roles included.
//
//go:embed openapi.json
var openAPISpec []byte

func serveOpenAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPISpec)
}
