package office

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/app"
	"github.com/kyso-vn/kyso/internal/vntime"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// page is what every template gets.
type page struct {
	Title  string
	Error  string
	Notice string
	Next   string
	V      *visit
	Nav    string // the menu entry to mark

	Docs                 []app.DocumentRecord
	Filter               string
	Doc                  *app.DocumentRecord
	Trail                []app.AuditRecord
	Keys                 []string
	MayApprove, MayIssue bool
	Agencies             []string
	AgentURL             string
	Year                 int
	Kind                 string
	Years                []int
	// Batch lists the drafts approved together from the list (this one first).
	Batch string
	// Book is the register shown, Series its series ("" the main one).
	Book   *app.RegisterBook
	Series string
}

func (v *visit) Role() string { return string(v.p.Role) }
func (v *visit) Name() string { return v.p.Name }

// Person is who the agent is told is signed in (X-Kyso-Person): the client's id,
// ASCII as a header must be, so that on a shared PC one person's pairing token is
// never used for another.
func (v *visit) Person() string { return "kyso-client-" + v.p.ID }
func (v *visit) CSRF() string   { return v.csrf }

var funcs = template.FuncMap{
	"status": func(s string) string {
		if l, ok := statusLabels[s]; ok {
			return l
		}
		return s
	},
	"urgency": func(s string) string { return urgencyLabels[s] },
	"secrecy": func(s string) string { return secrecyLabels[s] },
	"role": func(s string) string {
		if l, ok := roleLabels[s]; ok {
			return l
		}
		return s
	},
	"action": func(s string) string {
		if l, ok := actionLabels[s]; ok {
			return l
		}
		return s
	},
	"date": func(t *time.Time) string {
		if t == nil || t.IsZero() {
			return ""
		}
		return t.In(vntime.Zone).Format("02/01/2006")
	},
	"when":   func(t time.Time) string { return t.In(vntime.Zone).Format("02/01/2006 15:04") },
	"numsym": numberSymbol,
	"two":    func(n int) string { return fmt.Sprintf("%02d", n) },
	"size": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"verdict": func(s string) string {
		if l, ok := verdictLabels[s]; ok {
			return l
		}
		return s
	},
	"verdictClass": func(s string) string {
		switch s {
		case "TOTAL_PASSED":
			return "ok"
		case "TOTAL_FAILED":
			return "bad"
		}
		return "unknown"
	},
}

var statusLabels = map[string]string{"draft": "Dự thảo", "approved": "Đã phê duyệt", "issued": "Đã phát hành", "received": "Đã tiếp nhận"}
var urgencyLabels = map[string]string{"": "Thường", "urgent": "Khẩn", "very_urgent": "Thượng khẩn", "flash": "Hỏa tốc"}
var secrecyLabels = map[string]string{"": "Thường", "confidential": "Mật", "secret": "Tối mật", "top_secret": "Tuyệt mật"}
var roleLabels = map[string]string{"admin": "Quản trị", "system": "Hệ thống", "clerk": "Văn thư", "leader": "Lãnh đạo"}
var verdictLabels = map[string]string{"TOTAL_PASSED": "Hợp lệ", "TOTAL_FAILED": "Không hợp lệ", "INDETERMINATE": "Chưa xác định được", "NOT_SIGNED": "Không có chữ ký"}
var actionLabels = map[string]string{
	"create": "Tạo", "version": "Phiên bản mới", "approve": "Phê duyệt", "number": "Lấy số", "issue": "Phát hành",
	"receive": "Tiếp nhận", "download": "Tải về", "read": "Xem", "key_use": "Dùng khóa ký",
}

// numberSymbol is "05/UBND-VP" as Decree 30 writes it (leading zero below 10).
func numberSymbol(d app.DocumentRecord) string {
	switch {
	case d.Number > 0 && d.Symbol != "":
		return fmt.Sprintf("%02d/%s", d.Number, d.Symbol)
	case d.Number > 0:
		return fmt.Sprintf("%02d", d.Number)
	}
	return d.Symbol
}

func (of *Office) render(w http.ResponseWriter, status int, name string, pg page) {
	of.securityHeaders(w)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytes.Buffer
	if err := of.pages[name].Execute(&b, pg); err != nil {
		of.o.Log.Error("office: rendering", "page", name, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// fail renders err as a page with the API's status for it; the cause of a 5xx goes
// to the log, never to the page.
func (of *Office) fail(w http.ResponseWriter, r *http.Request, v *visit, err error) {
	status, detail := of.o.Explain(err)
	if status >= 500 {
		of.o.Log.Error("office: request failed", "path", r.URL.Path, "error", err)
	}
	of.failStatus(w, r, v, status, detail)
}

func (of *Office) failStatus(w http.ResponseWriter, r *http.Request, v *visit, status int, detail string) {
	if wantsJSON(r) {
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": status, "detail": detail})
		return
	}
	of.render(w, status, "error", page{Title: "Không thực hiện được", Error: detail, V: v})
}

func wantsJSON(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "application/json")
}

// filters are the list's tabs: status and direction.
var filters = map[string]app.DocumentQuery{
	"":             {},
	"du-thao":      {Status: "draft"},
	"da-duyet":     {Status: "approved"},
	"da-phat-hanh": {Direction: "outgoing", Status: "issued"},
	"van-ban-den":  {Direction: "incoming"},
}

// list is GET /van-phong/van-ban[?loc=du-thao|da-duyet|da-phat-hanh|van-ban-den].
func (of *Office) list(w http.ResponseWriter, r *http.Request, v *visit) {
	f := r.URL.Query().Get("loc")
	q, ok := filters[f]
	if !ok {
		of.failStatus(w, r, v, http.StatusBadRequest, "Bộ lọc không có.")
		return
	}
	q.Limit = 200
	docs, err := of.o.Services.SearchDocuments(r.Context(), v.p, q)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	of.render(w, http.StatusOK, "list", page{Title: "Văn bản", V: v, Nav: "list", Docs: docs, Filter: f,
		MayApprove: v.p.Role == app.RoleLeader, AgentURL: of.o.AgentURL, Notice: notice(r)})
}

func notice(r *http.Request) string {
	switch r.URL.Query().Get("tb") {
	case "da-tai-len":
		return "Đã lưu dự thảo."
	case "da-phat-hanh":
		return "Đã phát hành văn bản."
	}
	return ""
}

func (of *Office) uploadPage(w http.ResponseWriter, r *http.Request, v *visit) {
	of.render(w, http.StatusOK, "upload", page{Title: "Tải lên dự thảo", V: v, Nav: "upload", Agencies: v.p.Agencies})
}

// maxImage bounds a signature or seal PNG.
const maxImage = 1 << 20

// form is a multipart form read by readForm.
type form struct {
	fields map[string][]string
	file   Upload            // the spooled "file" part
	images map[string][]byte // small parts (PNG images)
}

func (f *form) get(name string) string {
	if v := f.fields[name]; len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

func (f *form) close() {
	if f.file != nil {
		f.file.Close()
	}
}

// readForm streams a multipart form. Its first part must be the session's CSRF
// token: nothing is spooled before the token is checked. The part "file" goes to
// Spool; the parts named in images are read up to maxImage each.
func (of *Office) readForm(w http.ResponseWriter, r *http.Request, v *visit, images ...string) (*form, error) {
	bad := func(d string) error { return fault.New(fault.Invalid, d) }
	if !isMultipart(r) {
		return nil, bad("Biểu mẫu phải gửi dạng multipart/form-data.")
	}
	r.Body = http.MaxBytesReader(w, r.Body, of.o.MaxUpload+int64(len(images))*maxImage+256<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, bad("Biểu mẫu không đọc được.")
	}
	f := &form{fields: map[string][]string{}, images: map[string][]byte{}}
	checked := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			f.close()
			return nil, bodyErr(err)
		}
		name := part.FormName()
		if !checked {
			tok, _ := io.ReadAll(io.LimitReader(part, 128))
			if name != "csrf" || !sameToken(string(tok), v.csrf) {
				f.close()
				return nil, fault.New(fault.Forbidden, "Biểu mẫu đã cũ hoặc không gửi từ trang này; hãy tải lại trang và thử lại.")
			}
			checked = true
			continue
		}
		switch {
		case name == "file" && part.FileName() != "" && f.file == nil:
			ct := part.Header.Get("Content-Type")
			if m, _, err := mime.ParseMediaType(ct); err == nil {
				ct = m
			} else {
				ct = "application/octet-stream"
			}
			up, err := of.o.Spool(part, filepath.Base(part.FileName()), ct)
			if err != nil {
				f.close()
				return nil, err
			}
			f.file = up
		case slices.Contains(images, name):
			if part.FileName() == "" && name != "certificate" {
				continue
			}
			b, err := io.ReadAll(io.LimitReader(part, maxImage+1))
			if err != nil {
				f.close()
				return nil, bodyErr(err)
			}
			if len(b) > maxImage {
				f.close()
				return nil, fault.New(fault.TooLarge, "Ảnh chữ ký hoặc con dấu lớn hơn 1 MB.")
			}
			if len(b) > 0 {
				f.images[name] = b
			}
		default:
			b, err := io.ReadAll(io.LimitReader(part, 16<<10+1))
			if err != nil {
				f.close()
				return nil, bodyErr(err)
			}
			if len(b) > 16<<10 || len(f.fields) > 64 || len(f.fields[name]) > 200 {
				f.close()
				return nil, bad("Biểu mẫu có trường quá dài hoặc quá nhiều trường.")
			}
			f.fields[name] = append(f.fields[name], string(b))
		}
	}
	if !checked {
		return nil, fault.New(fault.Forbidden, "Biểu mẫu thiếu mã bảo vệ; hãy tải lại trang và thử lại.")
	}
	return f, nil
}

func bodyErr(err error) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return fault.Wrap(fault.TooLarge, err, "Tệp lớn hơn máy chủ cho phép.")
	}
	return fault.Wrap(fault.Invalid, err, "Tải lên bị gián đoạn hoặc biểu mẫu không đúng.")
}

// upload is POST /van-phong/van-ban/moi: a new outgoing draft (CreateDocument).
func (of *Office) upload(w http.ResponseWriter, r *http.Request, v *visit) {
	pg := page{Title: "Tải lên dự thảo", V: v, Nav: "upload", Agencies: v.p.Agencies}
	f, err := of.readForm(w, r, v)
	if err != nil {
		status, detail := of.o.Explain(err)
		of.render(w, status, "upload", withError(pg, detail))
		return
	}
	defer f.close()
	if f.file == nil {
		of.render(w, http.StatusBadRequest, "upload", withError(pg, "Chưa chọn tệp dự thảo."))
		return
	}
	rec, err := of.o.Services.CreateDocument(r.Context(), v.p, app.NewDocument{
		Direction: "outgoing", AgencyCode: f.get("agency"), Symbol: f.get("symbol"), Type: f.get("type"),
		Summary: f.get("summary"), Urgency: f.get("urgency"), Confidentiality: f.get("confidentiality"),
	}, f.file)
	if err != nil {
		status, detail := of.o.Explain(err)
		if status >= 500 {
			of.o.Log.Error("office: upload failed", "error", err)
		}
		of.render(w, status, "upload", withError(pg, detail))
		return
	}
	of.o.Log.Info("office: draft stored", "document_id", rec.ID, "client_id", v.p.ID)
	http.Redirect(w, r, fmt.Sprintf("/van-phong/van-ban/%d?tb=da-tai-len", rec.ID), http.StatusSeeOther)
}

func pathID(r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

func notFound() error {
	return fault.New(fault.NotFound, "Không có văn bản này, hoặc bạn không được xem.")
}

// document is GET /van-phong/van-ban/{id}: details, versions, trail and actions.
func (of *Office) document(w http.ResponseWriter, r *http.Request, v *visit) {
	id, ok := pathID(r)
	if !ok {
		of.fail(w, r, v, notFound())
		return
	}
	doc, err := of.o.Services.GetDocument(r.Context(), v.p, id)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	trail, err := of.o.Services.DocumentAudit(r.Context(), v.p, id)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	pg := page{Title: "Văn bản " + numberSymbol(doc), V: v, Nav: "list", Doc: &doc, Trail: trail, AgentURL: of.o.AgentURL, Notice: notice(r)}
	// The buttons follow app's rules; app refuses anyway.
	pg.MayApprove = v.p.Role == app.RoleLeader && doc.Status == "draft" && doc.Direction == "outgoing"
	if lo := r.URL.Query().Get("lo"); pg.MayApprove && lo != "" {
		ids := strings.Split(lo, ",")
		if len(ids) > 100 {
			of.failStatus(w, r, v, http.StatusBadRequest, "Chọn từ 1 đến 100 văn bản để phê duyệt.")
			return
		}
		for _, s := range ids {
			if n, err := strconv.ParseInt(s, 10, 64); err != nil || n <= 0 {
				of.fail(w, r, v, notFound())
				return
			}
		}
		pg.Batch = lo
	}
	if v.p.Role == app.RoleClerk && doc.Status == "approved" {
		if pg.Keys, err = of.keysFor(r, v); err != nil {
			of.fail(w, r, v, err)
			return
		}
		pg.MayIssue = true
	}
	of.render(w, http.StatusOK, "document", pg)
}

// keysFor names the server keys v's person may sign with (app.MayUseKey).
func (of *Office) keysFor(r *http.Request, v *visit) ([]string, error) {
	keys, err := of.o.Services.ListKeys(r.Context())
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		if app.MayUseKey(v.p, k) {
			out = append(out, k.Name)
		}
	}
	return out, nil
}

// download is GET /van-phong/van-ban/{id}/tep/{seq}: a version of the document.
func (of *Office) download(w http.ResponseWriter, r *http.Request, v *visit) {
	id, ok := pathID(r)
	seq, err := strconv.Atoi(r.PathValue("seq"))
	if !ok || err != nil || seq < 1 {
		of.fail(w, r, v, notFound())
		return
	}
	rc, ver, err := of.o.Services.OpenContent(r.Context(), v.p, id, seq)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	defer rc.Close()
	name := ver.Filename
	if name == "" {
		name = fmt.Sprintf("van-ban-%d.pdf", id)
	}
	ct := ver.MediaType
	if ct == "" {
		ct = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	w.Header().Set("Content-Length", strconv.FormatInt(ver.Size, 10))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.Copy(w, rc)
}

// approve is POST /van-phong/phe-duyet (script, JSON answer): the leader's approval of
// one or more drafts ("document_id" repeated) is prepared with the certificate the
// agent read from the token ("certificate": base64 DER, leaf first, repeated) and the
// signature image; the answer lists the request ids the page hands to the agent.
func (of *Office) approve(w http.ResponseWriter, r *http.Request, v *visit) {
	f, err := of.readForm(w, r, v, "image")
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	defer f.close()
	var chain []*x509.Certificate
	for _, s := range f.fields["certificate"] {
		der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
		var c *x509.Certificate
		if err == nil {
			c, err = x509.ParseCertificate(der)
		}
		if err != nil {
			of.failStatus(w, r, v, http.StatusBadRequest, "Chứng thư số từ agent không đọc được.")
			return
		}
		chain = append(chain, c)
	}
	if len(chain) == 0 {
		of.failStatus(w, r, v, http.StatusBadRequest, "Chưa chọn chứng thư số.")
		return
	}
	var ids []int64
	for _, s := range f.fields["document_id"] {
		id, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || id <= 0 {
			of.fail(w, r, v, notFound())
			return
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 || len(ids) > 100 {
		of.failStatus(w, r, v, http.StatusBadRequest, "Chọn từ 1 đến 100 văn bản để phê duyệt.")
		return
	}
	img := f.images["image"]
	if img != nil && !bytes.HasPrefix(img, []byte("\x89PNG\r\n\x1a\n")) {
		of.failStatus(w, r, v, http.StatusBadRequest, "Ảnh chữ ký phải là tệp PNG.")
		return
	}
	req := app.SignatureRequest{Certificates: chain, Role: app.RoleApprove, Reason: "Phê duyệt", Image: img}
	if img != nil {
		req.Page = 1
		if s := f.get("page"); s != "" {
			if req.Page, err = strconv.Atoi(s); err != nil || req.Page < 1 {
				of.failStatus(w, r, v, http.StatusBadRequest, "Trang đặt chữ ký phải là số trang.")
				return
			}
		}
		if s := f.get("rect"); s != "" {
			if req.Rect, err = app.ParseRect(s); err != nil {
				of.failStatus(w, r, v, http.StatusBadRequest, "Vị trí chữ ký là bốn số x1,y1,x2,y2 (điểm).")
				return
			}
		}
	}
	var out []string
	for _, id := range ids {
		req.DocumentID = id
		pend, err := of.o.Services.PrepareSignature(r.Context(), v.p, req, nil)
		if err != nil {
			of.fail(w, r, v, err)
			return
		}
		out = append(out, pend.ID)
	}
	of.o.Log.Info("office: approval prepared", "client_id", v.p.ID, "documents", len(ids))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"request_ids": out})
}

// issue is POST /van-phong/van-ban/{id}/phat-hanh: the clerk issues with a server
// key and the seal (IssueDocument).
func (of *Office) issue(w http.ResponseWriter, r *http.Request, v *visit) {
	id, ok := pathID(r)
	if !ok {
		of.fail(w, r, v, notFound())
		return
	}
	f, err := of.readForm(w, r, v, "seal")
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	defer f.close()
	seal := f.images["seal"]
	if seal != nil && !bytes.HasPrefix(seal, []byte("\x89PNG\r\n\x1a\n")) {
		of.failStatus(w, r, v, http.StatusBadRequest, "Ảnh con dấu phải là tệp PNG.")
		return
	}
	keys, err := of.keysFor(r, v)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	key := f.get("key")
	if !slices.Contains(keys, key) {
		of.fail(w, r, v, fault.WithCode(fault.Errorf(fault.Forbidden, "Bạn không được dùng khóa %q, hoặc khóa không có.", key), app.CodeKeyNotGranted))
		return
	}
	rec, err := of.o.Services.IssueDocument(r.Context(), v.p, id, app.IssueOrder{Key: key, Seal: seal})
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	of.o.Log.Info("office: document issued", "document_id", rec.ID, "client_id", v.p.ID, "identifier", rec.Identifier)
	http.Redirect(w, r, fmt.Sprintf("/van-phong/van-ban/%d?tb=da-phat-hanh", rec.ID), http.StatusSeeOther)
}

func (of *Office) pairPage(w http.ResponseWriter, r *http.Request, v *visit) {
	of.render(w, http.StatusOK, "pair", page{Title: "Ghép nối agent", V: v, Nav: "pair", AgentURL: of.o.AgentURL})
}

// registers is GET /van-phong/so-dang-ky?nam=2026&loai=di|den[&co-quan=CODE][&so=SERIES][&dang=csv]:
// the register book of Decree 30/2020, Phụ lục IV — outgoing (issued documents by
// number) or incoming (by arrival number) — of one of the person's agencies for a
// year and a series (the main one by default), printable, or as CSV with a UTF-8
// BOM for spreadsheet programs. It is app.RegisterBook, the very rows GET
// /v1/registers/entries answers: voided numbers ("số bị hủy") and numbers still
// reserved are rows of their own, a document above the person's clearance shows its
// number and date only.
func (of *Office) registers(w http.ResponseWriter, r *http.Request, v *visit) {
	now := of.o.Now().In(vntime.Zone)
	qs := r.URL.Query()
	year := now.Year()
	if s := qs.Get("nam"); s != "" {
		y, err := strconv.Atoi(s)
		if err != nil || y < 1900 || y > 9999 {
			of.failStatus(w, r, v, http.StatusBadRequest, "Năm không hợp lệ.")
			return
		}
		year = y
	}
	kind := qs.Get("loai")
	q := app.RegisterBookQuery{Kind: "outgoing", Series: qs.Get("so"),
		From: time.Date(year, 1, 1, 0, 0, 0, 0, vntime.Zone), To: time.Date(year, 12, 31, 0, 0, 0, 0, vntime.Zone)}
	switch kind {
	case "", "di":
		kind = "di"
	case "den":
		q.Kind = "incoming"
	default:
		of.failStatus(w, r, v, http.StatusBadRequest, "Loại sổ là \"di\" hoặc \"den\".")
		return
	}
	agencies := v.p.Agencies
	q.Agency = qs.Get("co-quan")
	if q.Agency == "" && len(agencies) > 0 {
		q.Agency = agencies[0]
	}
	book, err := of.o.Services.RegisterBook(r.Context(), v.p, q)
	if err != nil {
		of.fail(w, r, v, err)
		return
	}
	if qs.Get("dang") == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="so-van-ban-%s-%s-%d.csv"`, kind, book.Agency, year))
		w.Header().Set("Cache-Control", "no-store")
		_ = app.WriteRegisterCSV(w, book)
		return
	}
	var years []int
	for y := now.Year(); y >= now.Year()-5; y-- {
		years = append(years, y)
	}
	of.render(w, http.StatusOK, "registers", page{Title: registerTitle(kind, year), V: v, Nav: "registers", Book: &book,
		Year: year, Kind: kind, Years: years, Agencies: agencies, Series: q.Series})
}

func registerTitle(kind string, year int) string {
	if kind == "den" {
		return fmt.Sprintf("Sổ đăng ký văn bản đến năm %d", year)
	}
	return fmt.Sprintf("Sổ đăng ký văn bản đi năm %d", year)
}
