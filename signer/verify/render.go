package verify

import (
	"fmt"
	"html/template"
	"io"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
)

// Lang is the language of the text and HTML reports: "vi" (default) or "en".
type Lang string

// The report languages.
const (
	Vietnamese Lang = "vi"
	English    Lang = "en"
)

// ParseLang reads "vi" or "en".
func ParseLang(s string) (Lang, error) {
	switch Lang(s) {
	case Vietnamese, English:
		return Lang(s), nil
	}
	return "", fmt.Errorf("verify: unknown language %q (want vi or en)", s)
}

// msg holds one text in both languages.
type msg struct{ vi, en string }

func (m msg) in(l Lang) string {
	if l == English {
		return m.en
	}
	return m.vi
}

var verdicts = map[string]msg{
	"passed":        {"Chữ ký hợp lệ", "The signatures are valid"},
	"modified":      {"Văn bản đã bị sửa đổi sau khi ký", "The document was changed after it was signed"},
	"failed":        {"Chữ ký không hợp lệ", "The signature is not valid"},
	"revoked":       {"Chứng thư của người ký đã bị thu hồi trước khi ký", "The signer's certificate was revoked before the signature was made"},
	"no-chain":      {"Không xác định được chứng thư của người ký", "The signer's certificate cannot be traced to a trusted authority"},
	"unsupported":   {"Chữ ký dùng thuật toán không được hỗ trợ", "The signature uses an algorithm that is not supported"},
	"weak":          {"Chữ ký nguyên vẹn nhưng dùng thuật toán không còn được chấp nhận", "The signature is intact but uses an algorithm no longer accepted"},
	"indeterminate": {"Chưa xác định được tính hợp lệ của chữ ký", "The validity of the signature cannot be established"},
}

var subExplanations = map[SubIndication]msg{
	FormatFailure:             {"Chữ ký hoặc tệp bị lỗi định dạng", "The signature or the file is malformed"},
	HashFailure:               {"Nội dung đã ký bị thay đổi", "The signed content was changed"},
	SigCryptoFailure:          {"Giá trị chữ ký không khớp với chứng thư", "The signature value does not match the certificate"},
	Revoked:                   {"Chứng thư đã bị thu hồi trước thời điểm ký", "The certificate was revoked before the time of signing"},
	RevokedNoPOE:              {"Chứng thư đã bị thu hồi và không có dấu thời gian chứng minh chữ ký có trước đó", "The certificate is revoked and no timestamp proves the signature is older"},
	NoCertificateChainFound:   {"Không xây dựng được chuỗi chứng thư tới tổ chức tin cậy", "No certificate chain to a trust anchor"},
	NoSigningCertificateFound: {"Không tìm thấy chứng thư của người ký", "The signer's certificate is missing"},
	OutOfBoundsNoPOE:          {"Chứng thư số đã hết hạn và không có dấu thời gian chứng minh thời điểm ký", "The certificate has expired and no timestamp proves when the signature was made"},
	OutOfBoundsNotRevoked:     {"Chứng thư đã hết hạn (không bị thu hồi) và không có dấu thời gian", "The certificate has expired (not revoked) and no timestamp proves when the signature was made"},
	NotYetValid:               {"Chữ ký được tạo trước khi chứng thư có hiệu lực", "The signature was made before the certificate was valid"},
	TryLater:                  {"Chưa kiểm tra được tình trạng thu hồi của chứng thư", "The certificate's revocation status could not be checked"},
	CryptoConstraintsFailure:  {"Thuật toán hoặc độ dài khóa không được chấp nhận", "The algorithm or key size is not accepted"},
	CryptoConstraintsFailureNoPOE: {"Thuật toán không còn được chấp nhận và không có gì chứng minh chữ ký được tạo trước khi thuật toán hết hạn",
		"The algorithm is no longer accepted and nothing proves the signature was made before its cutoff"},
	SigConstraintsFailure: {"Chứng thư không được phép dùng để ký văn bản", "The certificate may not be used to sign documents"},
	ModifiedAfterSigning:  {"Văn bản bị sửa đổi sau khi ký theo cách không được phép", "The document was changed after signing in a way its permissions do not allow"},
}

var labels = map[string]msg{
	"file":       {"Tệp", "File"},
	"result":     {"Kết quả", "Result"},
	"signature":  {"Chữ ký", "Signature"},
	"timestamp":  {"Dấu thời gian văn bản", "Document timestamp"},
	"field":      {"Trường chữ ký", "Signature field"},
	"signer":     {"Người ký", "Signer"},
	"issuer":     {"Tổ chức cấp", "Issued by"},
	"serial":     {"Số hiệu chứng thư", "Certificate serial"},
	"time":       {"Thời điểm ký", "Signing time"},
	"integrity":  {"Toàn vẹn", "Integrity"},
	"coverage":   {"Phạm vi", "Coverage"},
	"whole":      {"toàn bộ văn bản", "the whole document"},
	"partial":    {"một phiên bản trước của văn bản", "an earlier revision of the document"},
	"level":      {"Mức PAdES", "PAdES level"},
	"changes":    {"Thay đổi sau khi ký", "Changes after signing"},
	"allowed":    {"được phép", "allowed"},
	"disallowed": {"KHÔNG được phép", "NOT allowed"},
	"chain":      {"Chuỗi chứng thư", "Certificate chain"},
	"revocation": {"Tình trạng thu hồi", "Revocation"},
	"tsa":        {"Dấu thời gian", "Timestamp"},
	"errors":     {"Lỗi", "Errors"},
	"warnings":   {"Cảnh báo", "Warnings"},
	"revision":   {"phiên bản", "revision"},
	"sha256":     {"SHA-256", "SHA-256"},
	"validated":  {"Thời điểm kiểm tra", "Validated at"},
	"reason":     {"Lý do", "Reason"},
	"why":        {"Giải thích", "Explanation"},
	"pki":        {"Hệ thống chứng thực", "PKI"},
	"algorithm":  {"Thuật toán", "Algorithm"},
}

var timeSources = map[string]msg{
	"timestamp":          {"theo dấu thời gian", "proven by a timestamp"},
	"document-timestamp": {"theo dấu thời gian văn bản sau đó", "proven by a later document timestamp"},
	"claimed":            {"do người ký tự khai, chưa được chứng minh", "claimed by the signer, not proven"},
	"validation-time":    {"không rõ", "unknown"},
}

// levelName is the PAdES level as the report tells it: "none" (a CAdES .p7s, a legacy
// adbe.pkcs7 signature) in the reader's language, the B-x levels as they are.
func levelName(level string, lang Lang) string {
	if level == "none" || level == "" {
		return msg{"không có (không phải chữ ký PAdES)", "none (not a PAdES signature)"}.in(lang)
	}
	return level
}

var integrityNames = map[string]msg{
	IntegrityIntact:      {"nguyên vẹn", "intact"},
	IntegrityHashFailure: {"nội dung đã ký bị thay đổi", "the signed content was changed"},
	IntegritySigFailure:  {"chữ ký sai", "the signature does not verify"},
	IntegrityFormat:      {"lỗi định dạng", "malformed"},
	IntegrityUnsupported: {"thuật toán không được hỗ trợ", "unsupported algorithm"},
}

var kindNames = map[string]msg{
	KindNone:        {"không thay đổi nội dung", "no change"},
	KindSignature:   {"thêm chữ ký, dấu thời gian hoặc dữ liệu kiểm tra", "signatures, timestamps or validation data added"},
	KindMetadata:    {"thông tin mô tả", "metadata"},
	KindFormFilling: {"điền biểu mẫu", "form filling"},
	KindAnnotation:  {"chú thích", "annotations"},
	KindOther:       {"thay đổi nội dung hoặc cấu trúc", "content or structure changed"},
}

// verdictKey picks the plain verdict for an indication.
func verdictKey(i Indication, s SubIndication) string {
	switch {
	case i == TotalPassed:
		return "passed"
	case s == ModifiedAfterSigning:
		return "modified"
	case s == Revoked:
		return "revoked"
	case i == TotalFailed:
		return "failed"
	case s == NoCertificateChainFound || s == NoSigningCertificateFound:
		return "no-chain"
	case s == CryptoConstraintsFailureNoPOE:
		return "weak"
	case s == CryptoConstraintsFailure:
		return "unsupported"
	}
	return "indeterminate"
}

// Verdict is the plain one-line verdict on the document in lang.
func (r *Report) Verdict(lang Lang) string {
	return verdicts[verdictKey(r.Indication, r.SubIndication)].in(lang)
}

func explain(s SubIndication, lang Lang) string {
	if m, ok := subExplanations[s]; ok {
		return m.in(lang)
	}
	return string(s)
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return "—"
	}
	// Vietnam's zone, as documents show times (Decree 30/2020)
	return t.In(vntime.Zone).Format("2006-01-02T15:04:05-07:00")
}

// WriteText writes the report as plain text: the verdict first, then the details.
func (r *Report) WriteText(w io.Writer, lang Lang) error {
	var b strings.Builder
	L := func(k string) string { return labels[k].in(lang) }
	fmt.Fprintf(&b, "%s\n", strings.ToUpper(r.Verdict(lang)))
	if r.SubIndication != "" {
		fmt.Fprintf(&b, "%s\n", explain(r.SubIndication, lang))
	}
	fmt.Fprintf(&b, "\n%s: %s\n%s: %s\n%s: %s/%s\n%s: %s\n", L("file"), r.File, L("sha256"), r.SHA256,
		L("result"), r.Indication, r.SubIndication, L("validated"), fmtTime(&r.ValidationTime))
	for _, s := range r.Signatures {
		title := L("signature")
		if s.Type == "document-timestamp" {
			title = L("timestamp")
		}
		fmt.Fprintf(&b, "\n%s #%d — %s\n", title, s.Index, verdicts[verdictKey(s.Indication, s.SubIndication)].in(lang))
		fmt.Fprintf(&b, "  %s: %s/%s", L("result"), s.Indication, s.SubIndication)
		if s.SubIndication != "" {
			fmt.Fprintf(&b, " (%s)", explain(s.SubIndication, lang))
		}
		if s.Explanation != nil {
			fmt.Fprintf(&b, "\n  %s: %s", L("why"), map[Lang]string{Vietnamese: s.Explanation.VI, English: s.Explanation.EN}[lang])
		}
		fmt.Fprintf(&b, "\n  %s: %s\n", L("field"), s.Field)
		if s.Signer != nil {
			fmt.Fprintf(&b, "  %s: %s\n  %s: %s\n  %s: %s\n", L("signer"), s.Signer.Subject, L("issuer"), s.Signer.Issuer, L("serial"), s.Signer.Serial)
		}
		// a signature that names no time at all (a bare CMS) has no source to tell
		if src := timeSources[s.TimeSource].in(lang); src != "" {
			fmt.Fprintf(&b, "  %s: %s (%s)\n", L("time"), fmtTime(s.SigningTime), src)
		} else {
			fmt.Fprintf(&b, "  %s: %s\n", L("time"), fmtTime(s.SigningTime))
		}
		if s.Reason != "" {
			fmt.Fprintf(&b, "  %s: %s\n", L("reason"), s.Reason)
		}
		fmt.Fprintf(&b, "  %s: %s\n", L("integrity"), integrityNames[s.Integrity].in(lang))
		cov := L("partial")
		if s.CoversWholeDocument {
			cov = L("whole")
		}
		fmt.Fprintf(&b, "  %s: %s (%s %d/%d)\n  %s: %s\n", L("coverage"), cov, L("revision"), s.Revision, r.Revisions, L("level"), levelName(s.Level, lang))
		if len(s.Modifications) > 0 {
			fmt.Fprintf(&b, "  %s:\n", L("changes"))
			for _, m := range s.Modifications {
				ok := L("allowed")
				if !m.Allowed {
					ok = L("disallowed")
				}
				fmt.Fprintf(&b, "    - %s %d: %s, %s — %s\n", L("revision"), m.Revision, kindNames[m.Kind].in(lang), ok, m.Detail)
			}
		}
		if s.SignatureAlgorithm != "" {
			fmt.Fprintf(&b, "  %s: %s\n", L("algorithm"), s.SignatureAlgorithm)
		}
		if s.PKI != "" {
			fmt.Fprintf(&b, "  %s: %s\n", L("pki"), s.PKI)
		}
		if len(s.Chain) > 0 {
			fmt.Fprintf(&b, "  %s:\n", L("chain"))
			for _, c := range s.Chain {
				fmt.Fprintf(&b, "    - %s\n", c.Subject)
			}
		}
		if s.Revocation != nil {
			fmt.Fprintf(&b, "  %s: %s (%s)", L("revocation"), s.Revocation.Status, s.Revocation.Source)
			if s.Revocation.RevokedAt != nil {
				fmt.Fprintf(&b, " %s", fmtTime(s.Revocation.RevokedAt))
			}
			b.WriteString("\n")
		}
		if s.Timestamp != nil {
			fmt.Fprintf(&b, "  %s: %s %s/%s\n", L("tsa"), fmtTime(&s.Timestamp.GenTime), s.Timestamp.Indication, s.Timestamp.SubIndication)
		}
		for _, e := range s.Errors {
			fmt.Fprintf(&b, "  %s: %s\n", L("errors"), e)
		}
		for _, e := range s.Warnings {
			fmt.Fprintf(&b, "  %s: %s\n", L("warnings"), e)
		}
	}
	for _, e := range r.Errors {
		fmt.Fprintf(&b, "%s: %s\n", L("errors"), e)
	}
	for _, e := range r.Warnings {
		fmt.Fprintf(&b, "%s: %s\n", L("warnings"), e)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var htmlPage = template.Must(template.New("report").Funcs(template.FuncMap{
	"L":       func(lang Lang, k string) string { return labels[k].in(lang) },
	"verdict": func(lang Lang, i Indication, s SubIndication) string { return verdicts[verdictKey(i, s)].in(lang) },
	"explain": func(lang Lang, s SubIndication) string { return explain(s, lang) },
	"time":    fmtTime,
	"source":  func(lang Lang, s string) string { return timeSources[s].in(lang) },
	"level":   func(lang Lang, s string) string { return levelName(s, lang) },
	"integ":   func(lang Lang, s string) string { return integrityNames[s].in(lang) },
	"kind":    func(lang Lang, s string) string { return kindNames[s].in(lang) },
	"cls":     func(i Indication) string { return map[Indication]string{TotalPassed: "ok", TotalFailed: "bad"}[i] },
	"isDocTS": func(s string) bool { return s == "document-timestamp" },
	"timePtr": func(t time.Time) *time.Time { return &t },
	"why": func(lang Lang, e *Explanation) string {
		if e == nil {
			return ""
		}
		if lang == English {
			return e.EN
		}
		return e.VI
	},
}).Parse(`<!DOCTYPE html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><title>{{verdict .Lang .R.Indication .R.SubIndication}}</title>
<style>
body{font-family:"Times New Roman",serif;max-width:60em;margin:2em auto;padding:0 1em;color:#222}
.verdict{font-size:1.6em;font-weight:bold;padding:.6em;border-radius:.3em;background:#fff3cd}
.ok{background:#d4edda}.bad{background:#f8d7da}
section{border:1px solid #ccc;border-radius:.3em;margin:1em 0;padding:.5em 1em}
dt{font-weight:bold;float:left;clear:left;width:13em}dd{margin-left:14em}
.no{color:#a00;font-weight:bold}
</style></head><body>
<p class="verdict {{cls .R.Indication}}">{{verdict .Lang .R.Indication .R.SubIndication}}</p>
{{with .R.SubIndication}}<p>{{explain $.Lang .}}</p>{{end}}
<dl><dt>{{L .Lang "file"}}</dt><dd>{{.R.File}}</dd><dt>{{L .Lang "sha256"}}</dt><dd><code>{{.R.SHA256}}</code></dd>
<dt>{{L .Lang "result"}}</dt><dd>{{.R.Indication}} {{.R.SubIndication}}</dd><dt>{{L .Lang "validated"}}</dt><dd>{{time (timePtr .R.ValidationTime)}}</dd></dl>
{{range .R.Signatures}}<section>
<h2>{{if isDocTS .Type}}{{L $.Lang "timestamp"}}{{else}}{{L $.Lang "signature"}}{{end}} #{{.Index}}: <span class="{{cls .Indication}}">{{verdict $.Lang .Indication .SubIndication}}</span></h2>
<dl><dt>{{L $.Lang "result"}}</dt><dd>{{.Indication}} {{.SubIndication}}{{with .SubIndication}} — {{explain $.Lang .}}{{end}}</dd>
{{with .Explanation}}<dt>{{L $.Lang "why"}}</dt><dd>{{why $.Lang .}}</dd>{{end}}
<dt>{{L $.Lang "field"}}</dt><dd>{{.Field}}</dd>
{{with .PKI}}<dt>{{L $.Lang "pki"}}</dt><dd>{{.}}</dd>{{end}}
{{with .Signer}}<dt>{{L $.Lang "signer"}}</dt><dd>{{.Subject}}</dd><dt>{{L $.Lang "issuer"}}</dt><dd>{{.Issuer}}</dd><dt>{{L $.Lang "serial"}}</dt><dd>{{.Serial}}</dd>{{end}}
<dt>{{L $.Lang "time"}}</dt><dd>{{time .SigningTime}}{{with source $.Lang .TimeSource}} ({{.}}){{end}}</dd>
{{with .Reason}}<dt>{{L $.Lang "reason"}}</dt><dd>{{.}}</dd>{{end}}
<dt>{{L $.Lang "integrity"}}</dt><dd>{{integ $.Lang .Integrity}}</dd>
<dt>{{L $.Lang "coverage"}}</dt><dd>{{if .CoversWholeDocument}}{{L $.Lang "whole"}}{{else}}{{L $.Lang "partial"}}{{end}} ({{L $.Lang "revision"}} {{.Revision}}/{{$.R.Revisions}})</dd>
<dt>{{L $.Lang "level"}}</dt><dd>{{level $.Lang .Level}}</dd>
{{with .Revocation}}<dt>{{L $.Lang "revocation"}}</dt><dd>{{.Status}} ({{.Source}}){{with .RevokedAt}} {{time .}}{{end}}</dd>{{end}}
{{with .Timestamp}}<dt>{{L $.Lang "tsa"}}</dt><dd>{{time (timePtr .GenTime)}} {{.Indication}} {{.SubIndication}}</dd>{{end}}
</dl>
{{if .Modifications}}<h3>{{L $.Lang "changes"}}</h3><ul>{{range .Modifications}}<li>{{L $.Lang "revision"}} {{.Revision}}: {{kind $.Lang .Kind}}, {{if .Allowed}}{{L $.Lang "allowed"}}{{else}}<span class="no">{{L $.Lang "disallowed"}}</span>{{end}} — {{.Detail}}</li>{{end}}</ul>{{end}}
{{if .Chain}}<h3>{{L $.Lang "chain"}}</h3><ol>{{range .Chain}}<li>{{.Subject}}</li>{{end}}</ol>{{end}}
{{if .Errors}}<h3>{{L $.Lang "errors"}}</h3><ul>{{range .Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .Warnings}}<h3>{{L $.Lang "warnings"}}</h3><ul>{{range .Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
</section>{{end}}
{{if .R.Errors}}<h3>{{L .Lang "errors"}}</h3><ul>{{range .R.Errors}}<li>{{.}}</li>{{end}}</ul>{{end}}
{{if .R.Warnings}}<h3>{{L .Lang "warnings"}}</h3><ul>{{range .R.Warnings}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))

// WriteHTML writes the report as one self-contained HTML page (no external resources).
func (r *Report) WriteHTML(w io.Writer, lang Lang) error {
	return htmlPage.Execute(w, struct {
		R    *Report
		Lang Lang
	}{r, lang})
}
