package agent

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/hsm"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// messages are the page's words: Vietnamese by default, English with ?lang=en.
var messages = map[string]map[string]string{
	"vi": {
		"title": "Kyso — ký số", "tokens": "Thiết bị ký số (USB token)", "noTokens": "Chưa cắm thiết bị ký số nào.",
		"holder": "Người/tổ chức", "issuer": "Nơi cấp", "validity": "Hiệu lực", "kind": "Loại",
		"personal": "Cá nhân", "organisation": "Cơ quan, tổ chức", "jobs": "Yêu cầu ký",
		"request": "Yêu cầu ký số", "server": "Máy chủ", "summary": "Trích yếu", "number": "Số, ký hiệu",
		"agency": "Cơ quan", "role": "Vai trò", "signer": "Người ký", "status": "Trạng thái",
		"certificate": "Chứng thư số", "pin": "Mã PIN của thiết bị", "confirm": "Ký", "count": "Số văn bản",
		"done": "Đã ký xong", "failed": "Lỗi", "completed": "Đã ký", "listed": "Chờ ký",
		"signing": "Đang ký", "notDrafted": "(chưa cấp số)", "pairTitle": "Ghép nối với máy chủ Kyso",
		"pairCode": "Nhập mã này vào trang web đang yêu cầu ghép nối:", "origin": "Trang web", "person": "Người dùng",
		"wrongPIN": "Mã PIN không đúng. Còn %d lần thử trước khi tạm khóa.",
		"locked":   "Đã nhập sai mã PIN quá nhiều lần. Tạm khóa đến %s để bảo vệ thiết bị.",
		"atRisk":   "Thiết bị đã bị khóa hoặc chỉ còn một lần thử mã PIN. Hãy mở khóa bằng công cụ của nhà cung cấp.",
		"noCert":   "Không thấy chứng thư số cần dùng trên thiết bị nào đang cắm.", "error": "Không ký được",
		"busy":    "Thiết bị đang ký yêu cầu khác, hoặc yêu cầu này đã được xác nhận. Vui lòng thử lại sau.",
		"pinNote": "Mã PIN chỉ được gửi tới thiết bị ký số, không lưu và không gửi đi đâu.",
		"approve": "Phê duyệt (chữ ký người có thẩm quyền)", "issue": "Phát hành (chữ ký cơ quan, kèm con dấu)",
		"appendix": "Ký phụ lục", "copy": "Ký bản sao điện tử", "incoming": "Ký văn bản đến", "expires": "Hết hạn",
		"lang": "English", "langHref": "?lang=en",
		"noSession":             "Trang này chỉ hiện yêu cầu ký khi được mở từ ứng dụng Kyso trên trình duyệt đã ghép nối.",
		"opening":               "Đang mở yêu cầu ký…",
		"badLink":               "Không mở được yêu cầu ký: trang đã được mở ở nơi khác, hoặc đường dẫn không đúng. Hãy mở lại từ ứng dụng Kyso.",
		"fault.invalid":         "Yêu cầu không hợp lệ.",
		"fault.bad-document":    "Văn bản không xử lý được (không phải PDF, bị hỏng hoặc bị mã hóa).",
		"fault.too-large":       "Văn bản vượt quá giới hạn cho phép.",
		"fault.unauthenticated": "Máy chủ Kyso không chấp nhận khóa API của ứng dụng này. Hãy ghép nối lại.",
		"fault.not-found":       "Không thấy chứng thư số cần dùng trên thiết bị nào đang cắm.",
		"fault.conflict":        "Thiết bị đang ký yêu cầu khác, hoặc yêu cầu này đã được xác nhận. Vui lòng thử lại sau.",
		"fault.expired":         "Yêu cầu ký đã hết hạn. Hãy tạo lại từ ứng dụng Kyso.",
		"fault.unavailable":     "Không dùng được thiết bị ký số hoặc máy chủ Kyso lúc này (thiết bị bị rút ra?). Hãy kiểm tra rồi thử lại.",
		"fault.rate-limited":    "Đã nhập sai mã PIN quá nhiều lần. Tạm khóa để bảo vệ thiết bị.",
		"fault.timeout":         "Quá thời gian chờ. Vui lòng thử lại.",
		"fault.canceled":        "Việc ký đã bị dừng.",
		"fault.not-implemented": "Bản kyso-agent này không dùng được thiết bị ký số (được dựng không có cgo).",
		"fault.internal":        "Không ký được do lỗi của kyso-agent; chi tiết đã ghi vào nhật ký.",
	},
	"en": {
		"title": "Kyso — digital signing", "tokens": "Signing tokens (USB)", "noTokens": "No signing token is plugged in.",
		"holder": "Holder", "issuer": "Issuer", "validity": "Valid", "kind": "Kind",
		"personal": "Personal", "organisation": "Organisation", "jobs": "Signing requests",
		"request": "Signing request", "server": "Server", "summary": "Summary", "number": "Number/symbol",
		"agency": "Agency", "role": "Role", "signer": "Signer", "status": "Status",
		"certificate": "Certificate", "pin": "Token PIN", "confirm": "Sign", "count": "Documents",
		"done": "All signed", "failed": "Failed", "completed": "Signed", "listed": "Waiting",
		"signing": "Signing", "notDrafted": "(no number yet)", "pairTitle": "Pairing with a Kyso server",
		"pairCode": "Type this code into the web page asking to pair:", "origin": "Web page", "person": "Person",
		"wrongPIN": "Wrong PIN. %d tries left before the prompt locks.",
		"locked":   "Too many wrong PINs. The prompt is locked until %s to protect the token.",
		"atRisk":   "The token is locked or has one PIN try left. Unlock it with the vendor's tool.",
		"noCert":   "The certificate needed is not on any token plugged in.", "error": "Not signed",
		"busy":    "The token is signing another request, or this one was confirmed already. Try again shortly.",
		"pinNote": "The PIN goes to the token only; it is never stored or sent anywhere.",
		"approve": "Approve (competent person's signature)", "issue": "Issue (organisation's signature with the seal)",
		"appendix": "Sign an appendix", "copy": "Sign an electronic copy", "incoming": "Stamp an incoming document", "expires": "Expires",
		"lang": "Tiếng Việt", "langHref": "?lang=vi",
		"noSession":             "This page shows signing requests only when opened from the Kyso web application in the paired browser.",
		"opening":               "Opening the signing request…",
		"badLink":               "Cannot open the signing request: it was opened elsewhere already, or the link is wrong. Open it again from the Kyso web application.",
		"fault.invalid":         "The request is not valid.",
		"fault.bad-document":    "The document cannot be processed (not a PDF, damaged or encrypted).",
		"fault.too-large":       "The document exceeds a configured limit.",
		"fault.unauthenticated": "The Kyso server does not accept this application's API key. Pair again.",
		"fault.not-found":       "The certificate needed is not on any token plugged in.",
		"fault.conflict":        "The token is signing another request, or this one was confirmed already. Try again shortly.",
		"fault.expired":         "The signing request expired. Make it again from the Kyso web application.",
		"fault.unavailable":     "The token or the Kyso server cannot be used now (was the token pulled out?). Check and try again.",
		"fault.rate-limited":    "Too many wrong PINs. The prompt is locked to protect the token.",
		"fault.timeout":         "This took too long. Try again.",
		"fault.canceled":        "Signing was stopped.",
		"fault.not-implemented": "This kyso-agent cannot use tokens (it was built without cgo).",
		"fault.internal":        "Not signed: kyso-agent failed; the details are in its log.",
	},
}

func langOf(r *http.Request) string {
	if l := r.FormValue("lang"); l == "en" {
		return "en"
	}
	return "vi"
}

type pageData struct {
	Lang    string
	T       map[string]string
	Message string
	Error   bool
	Tokens  []Token
	Jobs    []*Job
	Job     *Job
	Prog    Progress
	Certs   []Certificate
	CSRF    string
	Pairing *pairingRequest
	Server  string
	Now     time.Time
	Session bool // the page was opened with a job's session: tokens and jobs may show
	Opening bool // the page trades the session in its URL's fragment for a cookie
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Lang = langOf(r)
	d.T = messages[d.Lang]
	d.Now = s.agent.now()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pages.ExecuteTemplate(w, name, d); err != nil {
		s.agent.log.Error("agent: rendering the page", "page", name, "error", err)
	}
}

// index shows the tokens and the jobs only to a browser holding a job's session
// cookie: another local process learns nothing from it.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	s.agent.mu.Lock()
	var jobs []*Job
	for _, j := range s.agent.jobs {
		if hasSession(r, j) {
			jobs = append(jobs, j)
		}
	}
	s.agent.mu.Unlock()
	if len(jobs) == 0 {
		s.render(w, r, http.StatusOK, "index.html", pageData{})
		return
	}
	toks, _ := s.agent.watcher.Tokens()
	s.render(w, r, http.StatusOK, "index.html", pageData{Tokens: toks, Jobs: jobs, Session: true})
}

// jobPage shows a job to the browser holding its session cookie. Without it, it shows
// nothing of the job: only the script that trades the session in the URL's fragment
// (which only the web page that listed the job got) for the cookie.
func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if ok && !hasSession(r, j) {
		s.render(w, r, http.StatusUnauthorized, "open.html", pageData{Opening: true})
		return
	}
	s.showJob(w, r, http.StatusOK, "", false)
}

// showJob renders a job with the certificates on the tokens present that its requests
// can be signed with.
func (s *Server) showJob(w http.ResponseWriter, r *http.Request, status int, msg string, isErr bool) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	p, _ := j.Progress()
	var certs []Certificate
	if _, c, ok := s.agent.watcher.FindCertificate(j.CertificateSHA256()); ok {
		// As of now, on the agent's clock: what Confirm will check.
		c.Warnings = warningsOf(c, append(slices.Clone(c.Chain), s.agent.watcher.Issuers()...), s.agent.now())
		certs = append(certs, c)
	}
	if len(certs) == 0 && p.State == JobReview && msg == "" {
		msg, isErr = messages[langOf(r)]["noCert"], true
	}
	s.render(w, r, status, "job.html", pageData{Job: j, Prog: p, Certs: certs, CSRF: j.csrf, Message: msg, Error: isErr, Server: j.Server})
}

// confirm takes the certificate and the PIN from the agent's own page.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	j, ok := s.agent.Job(r.PathValue("id"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil || !constantEqual(r.PostForm.Get("csrf"), j.csrf) {
		http.Error(w, "agent: stale or forged form", http.StatusForbidden)
		return
	}
	pin := hsm.NewSecret(r.PostForm.Get("pin"))
	r.PostForm.Del("pin")
	r.Form.Del("pin")
	err := s.agent.Confirm(s.base, j, r.PostForm.Get("certificate"), pin)
	if err == nil {
		http.Redirect(w, r, "/jobs/"+url.PathEscape(j.ID)+"?lang="+langOf(r), http.StatusSeeOther)
		return
	}
	if fault.KindOf(err) == fault.Internal {
		s.agent.log.Warn("agent: confirmation failed", "job", j.ID, "error", err)
	}
	status, msg := pageMessage(langOf(r), err)
	s.showJob(w, r, status, msg, true)
}

// pageMessage is what the agent's page says about err, in lang, and the status it
// answers with. Both are chosen from err's fault.Kind alone, so an error reads the same
// whichever path made it; the only details added are those a person acts on (tries
// left, until when the prompt is locked). The error's own text goes to the log, never
// to the page: it may name module paths and token internals.
func pageMessage(lang string, err error) (int, string) {
	t := messages[lang]
	if t == nil {
		t = messages["vi"]
	}
	k := fault.KindOf(err)
	var wrong *WrongPINError
	var locked *LockedError
	var notValid *CertificateTimeError
	switch {
	case errors.As(err, &notValid):
		return http.StatusUnprocessableEntity, notValid.Warning.In(lang)
	case k == fault.Invalid && errors.As(err, &wrong):
		return http.StatusUnprocessableEntity, sprintf(t["wrongPIN"], wrong.Left)
	case k == fault.RateLimited && errors.As(err, &locked):
		return http.StatusLocked, sprintf(t["locked"], locked.Until.In(vietnam).Format("15:04"))
	case k == fault.Forbidden:
		return http.StatusLocked, t["atRisk"]
	}
	msg := t["fault."+k.String()]
	if msg == "" {
		msg = t["fault.internal"]
	}
	return kindStatus[k], msg
}

// kindStatus is the page's status for each kind.
var kindStatus = map[fault.Kind]int{
	fault.Internal: http.StatusInternalServerError, fault.Invalid: http.StatusUnprocessableEntity,
	fault.BadDocument: http.StatusUnprocessableEntity, fault.TooLarge: http.StatusRequestEntityTooLarge,
	fault.Unauthenticated: http.StatusUnauthorized, fault.Forbidden: http.StatusLocked,
	fault.NotFound: http.StatusConflict, fault.Conflict: http.StatusConflict, fault.Expired: http.StatusGone,
	fault.Unavailable: http.StatusServiceUnavailable, fault.RateLimited: http.StatusLocked,
	fault.Timeout: http.StatusGatewayTimeout, fault.Canceled: http.StatusServiceUnavailable,
	fault.NotImplemented: http.StatusNotImplemented,
}

func (s *Server) pairPage(w http.ResponseWriter, r *http.Request) {
	s.agent.mu.Lock()
	p, ok := s.agent.pairings[r.PathValue("id")]
	s.agent.mu.Unlock()
	if !ok || s.agent.now().After(p.expires) {
		http.NotFound(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "pair.html", pageData{Pairing: p})
}

func sprintf(format string, a ...any) string { return fmt.Sprintf(format, a...) }

func constantEqual(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// Code, Server, Origin and Person show a pairing request on the page.
func (p *pairingRequest) Code() string   { return p.code[:3] + " " + p.code[3:] }
func (p *pairingRequest) Server() string { return p.server }
func (p *pairingRequest) Origin() string { return p.origin }
func (p *pairingRequest) Person() string { return p.person }

// Role is the request's role in words of lang.
func roleName(lang, role string) string {
	if m, ok := messages[lang][role]; ok {
		return m
	}
	return role
}

// commonName is the CN of an RFC 2253 distinguished name such as a request's signer,
// or the whole name when it has none.
func commonName(dn string) string {
	for _, part := range strings.Split(dn, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "CN="); ok {
			return v
		}
	}
	return dn
}
