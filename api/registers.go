package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/app"
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

// RegisterBooks lists a register's rows for a period (the "sổ đăng ký" of Decree
// 30/2020 Phụ lục IV). Only clients of the agency (and admins) may; another agency's is
// fault.Forbidden.
type RegisterBooks interface {
	RegisterBook(ctx context.Context, p Principal, q RegisterBookQuery) (RegisterBook, error)
}

// datePeriod reads the days from..to (YYYY-MM-DD, Vietnam), both required.
func datePeriod(from, to string) (StatsQuery, error) {
	if from == "" || to == "" {
		return StatsQuery{}, badOption("Options \"from\" and \"to\" go together: the first and the last day of the period (2025-01-01).")
	}
	var q StatsQuery
	for _, d := range []struct {
		name, v string
		dst     *time.Time
	}{{"from", from, &q.From}, {"to", to, &q.To}} {
		t, err := time.ParseInLocation(time.DateOnly, d.v, vietnamTime)
		if err != nil {
			return StatsQuery{}, badOption(fmt.Sprintf("Option %q must be a day (2025-03-05).", d.name))
		}
		*d.dst = t
	}
	return q, nil
}

// registerBookQuery reads agency, kind, from, to and series; on failure it has
// rendered the problem.
func registerBookQuery(c *gin.Context) (RegisterBookQuery, bool) {
	q, ok := queryOptions(c, "agency", "kind", "from", "to", "series")
	if !ok {
		return RegisterBookQuery{}, false
	}
	if q["agency"] == "" || q["kind"] == "" {
		fail(c, probInvalidRequest, "Options \"agency\" and \"kind\" (out or in) are required.")
		return RegisterBookQuery{}, false
	}
	period, err := datePeriod(q["from"], q["to"])
	if err != nil {
		fail(c, probInvalidRequest, err.Error())
		return RegisterBookQuery{}, false
	}
	return RegisterBookQuery{Agency: q["agency"], Kind: q["kind"], Series: q["series"], From: period.From, To: period.To}, true
}

// registerBook is GET /v1/registers/entries?agency=&kind=out|in&from=&to=[&series=].
func (s *Server) registerBook(c *gin.Context) {
	if book, ok := s.readBook(c); ok {
		c.JSON(http.StatusOK, book)
	}
}

// readBook is the register book the request asks for, as the caller may see it; on
// failure it has rendered the problem.
func (s *Server) readBook(c *gin.Context) (RegisterBook, bool) {
	q, ok := registerBookQuery(c)
	if !ok {
		return RegisterBook{}, false
	}
	p, _ := principal(c)
	book, err := s.books.RegisterBook(c.Request.Context(), p, q)
	if err != nil {
		failErr(c, err)
		return RegisterBook{}, false
	}
	return book, true
}

// registerBookCSV is GET /v1/registers/entries.csv: the same rows as CSV with the
// columns of Phụ lục IV, a UTF-8 byte-order mark first so that Excel shows Vietnamese.
func (s *Server) registerBookCSV(c *gin.Context) {
	book, ok := s.readBook(c)
	if !ok {
		return
	}
	var buf bytes.Buffer
	if err := app.WriteRegisterCSV(&buf, book); err != nil {
		failErr(c, err)
		return
	}
	name := fmt.Sprintf("so-van-ban-%s-%s-%s-%s.csv", map[string]string{"outgoing": "di", "incoming": "den"}[book.Kind], book.Agency, book.From, book.To)
	c.Header("Content-Disposition", `attachment; filename="`+name+`"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
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
