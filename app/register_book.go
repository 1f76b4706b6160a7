package app

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
	"github.com/kyso-vn/kyso/pkg/store"
	"github.com/kyso-vn/kyso/signer/pdf"
)

// The registers as Decree 30/2020 keeps them (Art. 16 and 22, Phụ lục IV): the
// outgoing register ("sổ đăng ký văn bản đi") and the incoming one ("sổ đăng ký văn
// bản đến") of an agency, for a period, one row per number, in number order.
//
// The columns are those of Phụ lục IV's two books. The transcription of the decree in
// ../shared/research lost Phụ lục IV's tables (only "tối thiểu gồm 10 nội dung" is
// left), so the columns follow issue #17, which lists them from the decree, with the
// secrecy and urgency marks as the tenth column of each; check them against the
// official text (vanban.chinhphu.vn) before printing a book for an inspection.
//
// What the store does not hold stays empty rather than guessed: the recipients ("nơi
// nhận") and who keeps the file copy ("đơn vị, người nhận bản lưu") of an outgoing
// document, the unit or person an incoming document went to and their signature of
// receipt ("ký nhận"). The electronic original is kept by the system itself (Art.
// 19.2). The number of pages is counted from the stored PDF the first time a row is
// listed and kept by content hash (content never changes), so later listings read
// no file.

// RegisterBookQuery asks for an agency's register over the days From..To (Vietnam
// dates, both included).
type RegisterBookQuery struct {
	Agency string
	Kind   string // outgoing (or out) or incoming (or in)
	Series string // "" for the main register
	From   time.Time
	To     time.Time
}

// RegisterBook is a register's rows for a period.
type RegisterBook struct {
	Agency  string          `json:"agency"`
	Kind    string          `json:"kind"` // outgoing or incoming
	Series  string          `json:"series,omitempty"`
	From    string          `json:"from"` // yyyy-MM-dd, Vietnam
	To      string          `json:"to"`   // yyyy-MM-dd, included
	Entries []RegisterEntry `json:"entries"`
}

// RegisterEntry is one row of a register. For the outgoing register Number is the
// document's number and Date its date; for the incoming one Number is the arrival
// number (số đến), Date the arrival, and NumberSymbol, DocumentDate and Issuer are the
// sender's.
type RegisterEntry struct {
	Year            int        `json:"year"`
	Number          int        `json:"number"`
	Date            *time.Time `json:"date,omitempty"`
	NumberSymbol    string     `json:"number_symbol,omitempty"` // 05/UBND-VP
	Symbol          string     `json:"symbol,omitempty"`
	DocumentDate    *time.Time `json:"document_date,omitempty"`
	Issuer          string     `json:"issuer,omitempty"` // tác giả: the issuing agency's code
	Type            string     `json:"type,omitempty"`
	TypeName        string     `json:"type_name,omitempty"`
	Summary         string     `json:"summary,omitempty"` // trích yếu
	Signer          string     `json:"signer,omitempty"`  // người ký: the leader's name from the signature
	Pages           int        `json:"pages,omitempty"`
	Urgency         string     `json:"urgency,omitempty"`
	Confidentiality string     `json:"confidentiality,omitempty"`
	Status          string     `json:"status,omitempty"`
	Verification    string     `json:"verification,omitempty"` // incoming: the indication on receipt
	Note            string     `json:"note,omitempty"`         // ghi chú
	// Voided is a number taken and then cancelled ("số bị hủy"): its own row, the
	// reason in Note. A number reserved by an issue in progress has its own row too,
	// Status "reserved".
	Voided bool `json:"voided,omitempty"`
	// Withheld is a document above the reader's clearance: its number and date are
	// listed, so the book shows no gap, and nothing else.
	Withheld   bool   `json:"withheld,omitempty"`
	DocumentID int64  `json:"document_id,omitempty"`
	Identifier string `json:"identifier,omitempty"`
}

// ParseRegisterKind reads out/outgoing and in/incoming.
func ParseRegisterKind(s string) (store.Direction, error) {
	switch strings.ToLower(s) {
	case "out", "outgoing", "di", "đi":
		return store.Outgoing, nil
	case "in", "incoming", "den", "đến":
		return store.Incoming, nil
	}
	return "", fault.Errorf(fault.Invalid, "register kind %q: out (văn bản đi) or in (văn bản đến)", s)
}

// maxRegisterDays bounds a listing: a year and a little, as the yearly book needs.
const maxRegisterDays = 400

// RegisterBook lists an agency's register for a period: only for those who act for
// the agency (authz.go); documents above p's clearance appear withheld.
func (s *Service) RegisterBook(ctx context.Context, p Principal, q RegisterBookQuery) (RegisterBook, error) {
	kind, err := ParseRegisterKind(q.Kind)
	if err != nil {
		return RegisterBook{}, err
	}
	if _, err := docid.ParseAgencyCode(q.Agency); err != nil {
		return RegisterBook{}, fault.Errorf(fault.Invalid, "agency: %v", err)
	}
	if !actsFor(p, q.Agency) {
		return RegisterBook{}, fault.Errorf(fault.Forbidden, "you do not act for agency %s", q.Agency)
	}
	if q.From.IsZero() || q.To.IsZero() {
		return RegisterBook{}, fault.New(fault.Invalid, "a register is listed for a period: give its first and last day")
	}
	from := day(q.From)
	to := day(q.To).AddDate(0, 0, 1)
	if !from.Before(to) {
		return RegisterBook{}, fault.New(fault.Invalid, "the period's last day is before its first")
	}
	if to.Sub(from) > maxRegisterDays*24*time.Hour {
		return RegisterBook{}, fault.Errorf(fault.Invalid, "a register is listed for at most %d days at a time", maxRegisterDays)
	}
	rows, err := s.Store.RegisterEntries(ctx, docid.AgencyCode(q.Agency), kind, q.Series, from, to)
	if err != nil {
		return RegisterBook{}, err
	}
	if p.Role == RoleAdmin {
		if _, err := s.Store.Audit(ctx, store.Event{Actor: AuditActor(p), Action: ActionRead,
			Detail: map[string]any{"register": q.Agency, "kind": string(kind), "series": q.Series, "from": from, "to": to}}); err != nil {
			return RegisterBook{}, err
		}
	}
	book := RegisterBook{Agency: q.Agency, Kind: string(kind), Series: q.Series,
		From: from.Format(time.DateOnly), To: to.AddDate(0, 0, -1).Format(time.DateOnly), Entries: []RegisterEntry{}}
	pages, err := s.pageCounts(ctx, rows)
	if err != nil {
		return RegisterBook{}, err
	}
	v := visibility(p)
	for i := range rows {
		book.Entries = append(book.Entries, registerEntry(&rows[i], kind, v, pages))
	}
	return book, nil
}

// day is the start of t's day in Vietnam.
func day(t time.Time) time.Time {
	y, m, d := t.In(vntime.Zone).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, vntime.Zone)
}

func registerEntry(r *store.RegisterEntry, kind store.Direction, v *store.Visibility, pages map[string]int) RegisterEntry {
	d := &r.Document
	e := RegisterEntry{Number: deref0(d.RegNumber), Year: deref0(d.Year)}
	if n := r.Number; n != nil {
		at := n.ReservedAt.UTC()
		e.Date, e.Status = &at, n.Status
		if n.Status == store.NumberVoided {
			e.Voided, e.Note = true, n.Reason
		}
		return e
	}
	e.Date = utc(d.IssuedAt)
	if kind == store.Incoming {
		e.Date, e.DocumentDate = utc(d.ReceivedAt), utc(d.IssuedAt)
	}
	if !v.Sees(d) {
		e.Withheld = true
		return e
	}
	e.DocumentID, e.Type, e.TypeName, e.Summary = d.ID, d.Type, TypeName(d.Type), d.Summary
	e.Symbol, e.Urgency, e.Confidentiality, e.Status = d.Symbol, string(d.Urgency), string(d.Confidentiality), string(d.Status)
	if d.Identifier != nil {
		e.Identifier = *d.Identifier
	}
	if d.Number > 0 && d.Symbol != "" {
		e.NumberSymbol = d.NumberSymbol().String()
	}
	e.Pages = pages[d.ContentSHA256]
	var sum Summary
	if json.Unmarshal([]byte(r.Signatures), &sum) == nil {
		if kind == store.Incoming {
			e.Verification = sum.Indication
		} else if len(sum.Signatures) > 0 {
			// An issued version's summary holds the signatures verified before the
			// organisation's: the first is the competent person's.
			e.Signer = commonName(sum.Signatures[0].Signer)
		}
	}
	if kind == store.Incoming {
		e.Issuer = d.AgencyCode
	}
	return e
}

func deref0(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// commonName is the CN of a subject as crypto/x509 prints it ("CN=Nguyễn Văn A,
// UID=…"); the whole subject when it has none.
func commonName(subject string) string {
	for _, part := range strings.Split(subject, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return v
		}
	}
	return subject
}

// pageCounts returns the number of pages of each row's content, counting (once per
// content, kept in the store) those not yet counted. A content that is not a readable
// PDF has no count (0): a scan in another format still has its row.
func (s *Service) pageCounts(ctx context.Context, rows []store.RegisterEntry) (map[string]int, error) {
	shas := make([]string, 0, len(rows))
	for i := range rows {
		if sha := rows[i].ContentSHA256; sha != "" {
			shas = append(shas, sha)
		}
	}
	known, err := s.Store.PageCounts(ctx, shas)
	if err != nil {
		return nil, err
	}
	for _, sha := range shas {
		if _, ok := known[sha]; ok {
			continue
		}
		n, err := s.countPages(ctx, sha)
		if err != nil {
			return nil, err
		}
		known[sha] = n
		if err := s.Store.SetPageCount(ctx, sha, n); err != nil {
			return nil, err
		}
	}
	return known, nil
}

func (s *Service) countPages(ctx context.Context, sha string) (int, error) {
	f, size, _, cleanup, err := s.openContent(ctx, sha)
	if err != nil {
		return 0, err
	}
	defer cleanup()
	rd, err := pdf.Open(f, size)
	if err != nil {
		return 0, nil
	}
	pages, err := rd.Pages()
	if err != nil {
		return 0, nil
	}
	return len(pages), nil
}

// TypeName is the name of a document type from its abbreviation (Decree 30/2020,
// Phụ lục III); an unknown abbreviation is returned as it is.
func TypeName(abbr string) string {
	if n, ok := typeNames[abbr]; ok {
		return n
	}
	return abbr
}

var typeNames = map[string]string{
	"NQ": "Nghị quyết", "QĐ": "Quyết định", "CT": "Chỉ thị", "QC": "Quy chế", "QyĐ": "Quy định",
	"TC": "Thông cáo", "TB": "Thông báo", "HD": "Hướng dẫn", "CTr": "Chương trình", "KH": "Kế hoạch",
	"PA": "Phương án", "ĐA": "Đề án", "DA": "Dự án", "BC": "Báo cáo", "BB": "Biên bản", "TTr": "Tờ trình",
	"HĐ": "Hợp đồng", "CĐ": "Công điện", "BGN": "Bản ghi nhớ", "BTT": "Bản thỏa thuận", "GUQ": "Giấy ủy quyền",
	"GM": "Giấy mời", "GGT": "Giấy giới thiệu", "GNP": "Giấy nghỉ phép", "PG": "Phiếu gửi", "PC": "Phiếu chuyển",
	"PB": "Phiếu báo", "CV": "Công văn",
}

// UrgencyName and ConfidentialityName are the marks as Decree 30 prints them.
var (
	UrgencyName         = map[string]string{"urgent": "Khẩn", "very_urgent": "Thượng khẩn", "flash": "Hỏa tốc"}
	ConfidentialityName = map[string]string{"confidential": "Mật", "secret": "Tối mật", "top_secret": "Tuyệt mật"}
)

// RegisterCSVHeader is the header row of each register's CSV, the columns of Phụ lục
// IV's books.
var RegisterCSVHeader = map[string][]string{
	string(store.Outgoing): {"Số", "Ngày tháng văn bản", "Ký hiệu", "Tên loại và trích yếu nội dung", "Người ký",
		"Nơi nhận văn bản", "Đơn vị, người nhận bản lưu", "Số lượng bản, số trang", "Độ mật, độ khẩn", "Ghi chú"},
	string(store.Incoming): {"Số đến", "Ngày đến", "Tác giả", "Số, ký hiệu", "Ngày tháng văn bản",
		"Tên loại và trích yếu nội dung", "Đơn vị hoặc người nhận", "Ký nhận", "Độ mật, độ khẩn", "Ghi chú"},
}

// utf8BOM starts the CSV so that Excel reads it as UTF-8 and shows Vietnamese right.
const utf8BOM = "\uFEFF"

// WriteRegisterCSV writes a register as CSV: a UTF-8 byte-order mark, the header of
// Phụ lục IV's book, one row per entry with dates as dd/MM/yyyy (Vietnam) and numbers
// with their leading zero ("05").
func WriteRegisterCSV(w io.Writer, b RegisterBook) error {
	if _, err := io.WriteString(w, utf8BOM); err != nil {
		return err
	}
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // as Excel writes it
	if err := cw.Write(RegisterCSVHeader[b.Kind]); err != nil {
		return err
	}
	for _, e := range b.Entries {
		if err := cw.Write(csvRow(b.Kind, e)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func csvRow(kind string, e RegisterEntry) []string {
	num := docid.FormatNumber(e.Number)
	title := e.TypeAndSummary()
	marks := joinNonEmpty(ConfidentialityName[e.Confidentiality], UrgencyName[e.Urgency])
	note := e.Note
	switch {
	case e.Voided:
		note = joinNonEmpty("Số bị hủy", e.Note)
	case e.Status == store.NumberReserved:
		note = "Số đã giữ cho văn bản đang ban hành"
	case e.Withheld:
		note = "Văn bản mật: nội dung không hiển thị với quyền của người xem"
	case kind == string(store.Outgoing) && e.Status != string(store.StatusIssued):
		note = joinNonEmpty("Đã cấp số, chưa ban hành", e.Note)
	}
	if kind == string(store.Incoming) {
		if e.Verification != "" && !e.Withheld {
			note = joinNonEmpty(note, "Kiểm tra chữ ký số khi nhận: "+e.Verification)
		}
		return []string{num, DateVN(e.Date), e.Issuer, e.NumberSymbol, DateVN(e.DocumentDate), title, "", "", marks, note}
	}
	copies := ""
	if e.Pages > 0 {
		copies = fmt.Sprintf("01 bản điện tử, %d trang", e.Pages)
	}
	return []string{num, DateVN(e.Date), e.Symbol, title, e.Signer, "", "", copies, marks, note}
}

// TypeAndSummary is the column "tên loại và trích yếu nội dung": the type's name, then
// the summary (which is not prefixed again when it starts with that name).
func (e RegisterEntry) TypeAndSummary() string {
	if e.TypeName == "" || strings.HasPrefix(strings.ToLower(e.Summary), strings.ToLower(e.TypeName)) {
		return e.Summary
	}
	return strings.TrimSpace(e.TypeName + " " + e.Summary)
}

// DateVN writes t's day in Vietnam as dd/MM/yyyy, the way Vietnamese offices write
// dates; "" for none.
func DateVN(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return t.In(vntime.Zone).Format("02/01/2006")
}

func joinNonEmpty(parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, "; ")
}
