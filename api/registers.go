package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"
)

// Registers lists and creates registers. A bad agency code or kind is fault.Invalid,
// a register that exists fault.Conflict.
type Registers interface {
	// Registers lists the registers of agency ("" for every agency) that p's agencies
	// keep, with the last number of year (0: this year).
	Registers(ctx context.Context, p Principal, agency string, year int) ([]RegisterRecord, error)
	CreateRegister(ctx context.Context, actor Principal, nr NewRegister) (RegisterRecord, error)
	// RegisterNumbers lists every number of a register's year (0: this one) with what
	// holds it: a document, a reservation, or a voided number and why.
	RegisterNumbers(ctx context.Context, p Principal, registerID int64, year int) ([]RegisterNumber, error)
}

// listRegisters is GET /v1/registers[?agency=...][&year=...].
func (s *Server) listRegisters(c *gin.Context) {
	q, ok := queryOptions(c, "agency", "year")
	if !ok {
		return
	}
	year, err := optionInt("year", q["year"], 1945, 9999)
	if err != nil {
		fail(c, probInvalidRequest, err.Error())
		return
	}
	p, _ := principal(c)
	regs, err := s.registers.Registers(c.Request.Context(), p, q["agency"], year)
	if err != nil {
		failErr(c, err)
		return
	}
	if regs == nil {
		regs = []RegisterRecord{}
	}
	c.JSON(http.StatusOK, gin.H{"registers": regs})
}

// createRegister is POST /v1/registers.
func (s *Server) createRegister(c *gin.Context) {
	if _, ok := queryOptions(c); !ok {
		return
	}
	var nr NewRegister
	if !decodeJSON(c, &nr) {
		return
	}
	if nr.Kind != "outgoing" && nr.Kind != "incoming" {
		fail(c, probInvalidRequest, "Field \"kind\" must be outgoing or incoming.")
		return
	}
	p, _ := principal(c)
	reg, err := s.registers.CreateRegister(c.Request.Context(), p, nr)
	if err != nil {
		failErr(c, err)
		return
	}
	logger(c).Info("register created", "register_id", reg.ID, "agency", reg.AgencyCode, "kind", reg.Kind)
	c.JSON(http.StatusCreated, reg)
}

// registerNumbers is GET /v1/registers/{id}/numbers[?year=...]: every number of the
// year from 1 to the last, issued, received, reserved or voided (with the reason).
func (s *Server) registerNumbers(c *gin.Context) {
	q, ok := queryOptions(c, "year")
	if !ok {
		return
	}
	year, err := optionInt("year", q["year"], 1945, 9999)
	if err != nil {
		fail(c, probInvalidRequest, err.Error())
		return
	}
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		fail(c, probNotFound, fmt.Sprintf("No register %q.", c.Param("id")))
		return
	}
	p, _ := principal(c)
	lines, err := s.registers.RegisterNumbers(c.Request.Context(), p, id, year)
	if err != nil {
		failErr(c, err)
		return
	}
	if lines == nil {
		lines = []RegisterNumber{}
	}
	c.JSON(http.StatusOK, gin.H{"register_id": id, "numbers": lines})
}
