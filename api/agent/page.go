package agent

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
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
		"pairCode": "Nhập mã này vào trang web đang yêu cầu ghép nối:", "origin": "Trang web",
		"wrongPIN": "Mã PIN không đúng. Còn %d lần thử trước khi tạm khóa.",
		"locked":   "Đã nhập sai mã PIN quá nhiều lần. Tạm khóa đến %s để bảo vệ thiết bị.",
		"atRisk":   "Thiết bị đã bị khóa hoặc chỉ còn một lần thử mã PIN. Hãy mở khóa bằng công cụ của nhà cung cấp.",
		"noCert":   "Không thấy chứng thư số cần dùng trên thiết bị nào đang cắm.", "error": "Không ký được",
		"busy":    "Thiết bị đang ký yêu cầu khác, hoặc yêu cầu này đã được xác nhận. Vui lòng thử lại sau.",
		"pinNote": "Mã PIN chỉ được gửi tới thiết bị ký số, không lưu và không gửi đi đâu.",
		"approve": "Phê duyệt (chữ ký người có thẩm quyền)", "issue": "Phát hành (chữ ký cơ quan, kèm con dấu)",
		"appendix": "Ký phụ lục", "copy": "Ký bản sao điện tử", "incoming": "Ký văn bản đến", "expires": "Hết hạn",
		"lang": "English", "langHref": "?lang=en",
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
		"pairCode": "Type this code into the web page asking to pair:", "origin": "Web page",
		"wrongPIN": "Wrong PIN. %d tries left before the prompt locks.",
		"locked":   "Too many wrong PINs. The prompt is locked until %s to protect the token.",
		"atRisk":   "The token is locked or has one PIN try left. Unlock it with the vendor's tool.",
		"noCert":   "The certificate needed is not on any token plugged in.", "error": "Not signed",
		"busy":    "The token is signing another request, or this one was confirmed already. Try again shortly.",
		"pinNote": "The PIN goes to the token only; it is never stored or sent anywhere.",
		"approve": "Approve (competent person's signature)", "issue": "Issue (organisation's signature with the seal)",
		"appendix": "Sign an appendix", "copy": "Sign an electronic copy", "incoming": "Stamp an incoming document", "expires": "Expires",
		"lang": "Tiếng Việt", "langHref": "?lang=vi",
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

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	toks, _ := s.agent.watcher.Tokens()
	s.agent.mu.Lock()
	var jobs []*Job
	for _, j := range s.agent.jobs {
		jobs = append(jobs, j)
	}
	s.agent.mu.Unlock()
	s.render(w, r, http.StatusOK, "index.html", pageData{Tokens: toks, Jobs: jobs})
}

func (s *Server) jobPage(w http.ResponseWriter, r *http.Request) {
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
	t := messages[langOf(r)]
	err := s.agent.Confirm(s.base, j, r.PostForm.Get("certificate"), r.PostForm.Get("pin"))
	var wrong *WrongPINError
	var locked *LockedError
	switch {
	case err == nil:
		http.Redirect(w, r, "/jobs/"+url.PathEscape(j.ID)+"?lang="+langOf(r), http.StatusSeeOther)
	case errors.As(err, &locked):
		s.showJob(w, r, http.StatusLocked, sprintf(t["locked"], locked.Until.In(vietnam).Format("15:04")), true)
	case errors.As(err, &wrong):
		s.showJob(w, r, http.StatusUnprocessableEntity, sprintf(t["wrongPIN"], wrong.Left), true)
	case errors.Is(err, ErrTokenAtRisk):
		s.showJob(w, r, http.StatusLocked, t["atRisk"], true)
	case errors.Is(err, ErrNoCertificate):
		s.showJob(w, r, http.StatusConflict, t["noCert"], true)
	case errors.Is(err, ErrBusy), errors.Is(err, ErrJobState):
		s.showJob(w, r, http.StatusConflict, t["busy"], true)
	default:
		s.agent.log.Warn("agent: confirmation failed", "job", j.ID, "error", err)
		s.showJob(w, r, http.StatusBadGateway, t["error"]+": "+err.Error(), true)
	}
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

// Code, Server and Origin show a pairing request on the page.
func (p *pairingRequest) Code() string   { return p.code[:3] + " " + p.code[3:] }
func (p *pairingRequest) Server() string { return p.server }
func (p *pairingRequest) Origin() string { return p.origin }

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
