package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/pkg/docid"
	"github.com/kyso-vn/kyso/pkg/fault"
)

// The command line speaks Vietnamese first: its own messages, the help of its main
// commands, the statistics' labels and the registers' columns come from the catalog
// below, in Vietnamese unless --lang en, or (without the flag) KYSO_LANG, or else
// LC_ALL, LC_MESSAGES or LANG naming an English locale (en_*), asks for English. Dates in Vietnamese output
// are dd/MM/yyyy; JSON output is the API's and keeps ISO 8601 whatever the language.
// Details that come from deeper layers (a refusal's detail, a library's error) are
// shown as they are, after the catalog's headline for their kind.

type lang string

const (
	langVI lang = "vi"
	langEN lang = "en"
)

// langs are the catalog's languages; every key has a text in each (TestCatalogComplete).
var langs = []lang{langVI, langEN}

// langFlag is the root's persistent flag.
const langFlag = "lang"

// langOf is the language of the command line cmd belongs to: its --lang, else the
// environment's locale.
func langOf(cmd *cobra.Command) lang {
	if cmd != nil {
		if f := cmd.Root().PersistentFlags().Lookup(langFlag); f != nil && f.Value.String() != "" {
			if l, err := parseLang(f.Value.String()); err == nil {
				return l
			}
		}
	}
	return envLang(os.Getenv)
}

// envLang reads KYSO_LANG (vi or en), else the locale as POSIX ranks its variables:
// English for en_*, else Vietnamese (also for C and POSIX, the default of servers and
// containers).
func envLang(getenv func(string) string) lang {
	if l, err := parseLang(getenv("KYSO_LANG")); err == nil {
		return l
	}
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG"} {
		if v := getenv(name); v != "" {
			if v == "en" || strings.HasPrefix(v, "en_") || strings.HasPrefix(v, "en.") {
				return langEN
			}
			return langVI
		}
	}
	return langVI
}

func parseLang(s string) (lang, error) {
	switch strings.ToLower(s) {
	case "vi", "vi_vn", "vie", "tieng-viet":
		return langVI, nil
	case "en", "en_us", "en_gb", "eng", "english":
		return langEN, nil
	}
	return "", fmt.Errorf("--lang %q: vi (tiếng Việt) or en (English)", s)
}

// tr is the text of key in l; a key missing from the catalog is a bug the catalog
// test catches, shown as the key itself rather than nothing.
func tr(l lang, key string, args ...any) string {
	s, ok := catalog[l][key]
	if !ok {
		s = key
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// dateIn writes a day as l's readers write it: dd/MM/yyyy in Vietnamese, yyyy-MM-dd in
// English; "-" for none.
func dateIn(l lang, t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	if l == langVI {
		return t.In(docid.Vietnam).Format("02/01/2006")
	}
	return t.In(docid.Vietnam).Format(time.DateOnly)
}

// parseDay reads a yyyy-MM-dd day in Vietnam; nil when it is not one.
func parseDay(s string) *time.Time {
	t, err := time.ParseInLocation(time.DateOnly, s, docid.Vietnam)
	if err != nil {
		return nil
	}
	return &t
}

// headline is the catalog's name for a refusal of kind k.
func headline(l lang, k fault.Kind) string { return tr(l, "fault."+k.String()) }

// localize puts the catalog's help texts on the command tree (for the language of
// this command line) and, in Vietnamese, the Vietnamese usage template. A command's
// long description comes from the catalog where it has one; else, in Vietnamese, the
// catalog's short text leads the English description, so that no detail is lost.
func localize(root *cobra.Command, l lang) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		path := c.CommandPath()
		if s, ok := catalog[l]["help."+path]; ok {
			c.Short = s
		}
		if c.Annotations == nil {
			c.Annotations = map[string]string{}
		}
		long, ok := c.Annotations["long"]
		if !ok {
			long = c.Long
			c.Annotations["long"] = long
		}
		switch s, ok := catalog[l]["long."+path]; {
		case ok:
			c.Long = s
		case l == langVI && long != "" && catalog[l]["help."+path] != "":
			c.Long = catalog[l]["help."+path] + ".\n\n" + long
		default:
			c.Long = long
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
	if l == langVI {
		root.SetUsageTemplate(usageVI)
	}
}

// usageVI is cobra's usage template with its headings in Vietnamese.
const usageVI = `Cách dùng:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [lệnh]{{end}}{{if gt (len .Aliases) 0}}

Tên khác:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Ví dụ:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}

Các lệnh:{{range .Commands}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Tham số:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Tham số chung:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

Chủ đề khác:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Dùng "{{.CommandPath}} [lệnh] --help" để xem hướng dẫn của từng lệnh.{{end}}
`

// catalog holds every text the command line prints of its own, by language.
var catalog = map[lang]map[string]string{
	langVI: {
		// The headline of each kind of refusal, before its detail.
		"fault.internal":        "lỗi hệ thống",
		"fault.invalid":         "yêu cầu không hợp lệ",
		"fault.bad-document":    "văn bản không hợp lệ",
		"fault.too-large":       "quá lớn",
		"fault.unauthenticated": "chưa xác thực",
		"fault.forbidden":       "không được phép",
		"fault.not-found":       "không tìm thấy",
		"fault.conflict":        "xung đột",
		"fault.expired":         "đã hết hạn",
		"fault.unavailable":     "dịch vụ không sẵn sàng",
		"fault.rate-limited":    "quá nhiều yêu cầu",
		"fault.timeout":         "quá thời gian",
		"fault.canceled":        "đã hủy",
		"fault.not-implemented": "chưa hỗ trợ",
		"error.usage":           "sai cách dùng",

		// Help of the main commands.
		"help.kyso":                  "Kyso ký số và kiểm tra văn bản (PAdES, CAdES) và lưu trữ văn bản",
		"help.kyso sign":             "Ký số văn bản PDF (PAdES), tệp khác ký tách rời (CAdES .p7s)",
		"help.kyso verify":           "Kiểm tra chữ ký số của văn bản PDF (PAdES) và chữ ký CMS/CAdES tách rời",
		"help.kyso extend":           "Nâng văn bản đã ký lên PAdES B-LT hoặc B-LTA (gia hạn lưu trữ)",
		"help.kyso keys":             "Liệt kê, tạo khóa và yêu cầu chứng thư trên token PKCS#11 và HSM",
		"help.kyso trust":            "Danh sách tin cậy Việt Nam có sẵn: chứng thư gốc và CA của NEAC và Ban Cơ yếu Chính phủ",
		"help.kyso serve":            "Chạy API HTTP (ký số, kiểm tra, văn bản)",
		"help.kyso stats":            "Số liệu báo cáo của tỉnh theo kỳ: văn bản đến, đi, chữ ký số, chứng thư số",
		"help.kyso docs":             "Kho văn bản: nhập, tìm, xem, kiểm tra, mã cơ quan, duyệt, ban hành, tiếp nhận, xuất",
		"help.kyso docs import":      "Nhập tệp làm văn bản đến (đã tiếp nhận) hoặc văn bản đi (dự thảo)",
		"help.kyso docs list":        "Tìm văn bản theo mã định danh, số, cơ quan, khoảng ngày hoặc trích yếu",
		"help.kyso docs get":         "Xem một văn bản với các phiên bản và nhật ký, hoặc ghi nội dung ra tệp (--out)",
		"help.kyso docs check":       "Kiểm tra mã băm mọi nội dung, chuỗi nhật ký và từng bản ghi văn bản (mã thoát 1 khi có vấn đề)",
		"help.kyso docs agencies":    "Nạp danh sách mã định danh cơ quan (code,name,parent_code,valid_from,valid_to)",
		"help.kyso docs approve":     "Duyệt dự thảo bằng chữ ký số của lãnh đạo (hình chữ ký giữa chức vụ và họ tên)",
		"help.kyso docs issue":       "Ban hành văn bản đã duyệt: cấp số, ngày, mã định danh và chữ ký số của cơ quan kèm dấu",
		"help.kyso docs receive":     "Kiểm tra văn bản đến, đăng ký số đến và lưu vào kho",
		"help.kyso docs export":      "Xuất văn bản đã ban hành thành gói edXML (QCVN 102:2016) gửi cơ quan khác",
		"help.kyso registers":        "Sổ đăng ký văn bản đi, văn bản đến (Nghị định 30/2020, Phụ lục IV)",
		"help.kyso registers list":   "Xem sổ đăng ký văn bản của cơ quan trong một kỳ, theo thứ tự số",
		"help.kyso registers export": "Xuất sổ đăng ký văn bản ra tệp CSV (mở được bằng Excel)",

		"long.kyso": `Kyso ("ký số") ký số văn bản PDF theo PAdES và các tệp khác theo CAdES bằng khóa trên
USB token, HSM (PKCS#11) và dịch vụ ký số từ xa, kiểm tra văn bản đã ký, và lưu văn bản
trong kho văn bản của mình. Ngôn ngữ: --lang vi|en (mặc định tiếng Việt; LANG=en_* là
tiếng Anh).`,
		"long.kyso stats": `Số liệu báo cáo hằng năm của tỉnh, cho một năm (--year, mặc định năm nay) hoặc các ngày
--from..--to (tính cả hai ngày, yyyy-MM-dd, giờ Việt Nam): văn bản đến và đi theo loại
và trạng thái, so với kỳ trước; chữ ký số theo loại (duyệt, ban hành, ký khác, kiểm tra
khi nhận) và theo loại khóa; chứng thư số còn hiệu lực theo loại và số đã dùng để ký
trong kỳ. Mỗi phần chia nhỏ cộng lại đúng bằng tổng. --json in JSON của API (GET /v1/stats).`,
		"long.kyso registers list": `Xem sổ đăng ký văn bản đi (--kind out) hoặc văn bản đến (--kind in) của cơ quan trong các
ngày --from..--to, mỗi số một dòng theo thứ tự số, với các cột của Phụ lục IV Nghị định
30/2020. --json in JSON của API (GET /v1/registers/entries), --csv TỆP ghi thêm tệp CSV.`,
		"long.kyso registers export": `Xuất sổ đăng ký văn bản của cơ quan trong một kỳ ra CSV: có dấu BOM UTF-8 (để Excel hiển
thị đúng tiếng Việt), tiêu đề cột theo mẫu sổ của Phụ lục IV, mỗi số một dòng theo thứ tự
số, ngày viết dd/MM/yyyy — đúng từng byte như GET /v1/registers/entries.csv. --csv TỆP
ghi ra tệp (an toàn khi mất điện, chỉ chủ tệp đọc được), không có thì ra màn hình.`,

		// kyso stats
		"stats.period":                "Kỳ báo cáo: %s – %s",
		"stats.col.now":               "kỳ này",
		"stats.col.prev":              "kỳ trước",
		"stats.col.change":            "tăng/giảm",
		"stats.documents":             "Văn bản (tổng)",
		"stats.incoming":              "Văn bản đến",
		"stats.outgoing":              "Văn bản đi",
		"stats.by_type":               "theo loại",
		"stats.by_status":             "theo trạng thái",
		"stats.signed":                "Văn bản đã ký số",
		"stats.signatures":            "Chữ ký số",
		"stats.by_kind":               "theo loại chữ ký",
		"stats.by_key":                "theo loại khóa",
		"stats.certificates":          "Chứng thư số",
		"stats.certificates.in_force": "còn hiệu lực trong kỳ",
		"stats.certificates.used":     "đã dùng để ký trong kỳ",
		"stats.total":                 "tổng",
		"stats.unspecified":           "chưa phân loại",
		"status.draft":                "dự thảo",
		"status.approved":             "đã duyệt",
		"status.issued":               "đã ban hành",
		"status.received":             "đã tiếp nhận",
		"status.returned":             "đã trả lại",
		"sig.approve":                 "duyệt (lãnh đạo)",
		"sig.issue":                   "ban hành (cơ quan)",
		"sig.sign":                    "ký khác",
		"sig.receive":                 "kiểm tra khi nhận (hợp lệ)",
		"key.hsm":                     "HSM",
		"key.soft":                    "khóa phần mềm (thử nghiệm)",
		"key.usb_token":               "USB token",
		"key.sim_pki":                 "SIM PKI",
		"key.remote":                  "ký số từ xa (CSC)",
		"key.other":                   "của cơ quan gửi",
		"cert.organisation":           "tổ chức",
		"cert.personal_usb_token":     "cá nhân, USB token",
		"cert.personal_sim_pki":       "cá nhân, SIM PKI",
		"cert.personal_remote":        "cá nhân, ký số từ xa",
		"cert.personal_hsm":           "cá nhân, HSM",
		"registers.title.outgoing":    "SỔ ĐĂNG KÝ VĂN BẢN ĐI — %s — từ %s đến %s",
		"registers.title.incoming":    "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN — %s — từ %s đến %s",
		"registers.rows":              "%d dòng",
		"registers.col.outgoing":      "SỐ\tNGÀY\tKÝ HIỆU\tTÊN LOẠI VÀ TRÍCH YẾU\tNGƯỜI KÝ\tSỐ TRANG\tĐỘ MẬT, KHẨN\tGHI CHÚ",
		"registers.col.incoming":      "SỐ ĐẾN\tNGÀY ĐẾN\tTÁC GIẢ\tSỐ, KÝ HIỆU\tNGÀY VĂN BẢN\tTÊN LOẠI VÀ TRÍCH YẾU\tĐỘ MẬT, KHẨN\tKIỂM TRA CHỮ KÝ\tGHI CHÚ",
		"registers.written":           "đã ghi %d dòng vào %s",
		"registers.voided":            "số bị hủy",
		"registers.reserved":          "số đã giữ, đang ban hành",
		"registers.withheld":          "văn bản mật: không hiển thị",
		"registers.not_issued":        "đã cấp số, chưa ban hành",

		// kyso docs
		"docs.list.header":   "ID\tLOẠI\tTRẠNG THÁI\tSỐ ĐK\tSỐ, KÝ HIỆU\tNGÀY\tMÃ ĐỊNH DANH\tKẾT QUẢ KIỂM TRA\tTRÍCH YẾU",
		"direction.outgoing": "đi",
		"direction.incoming": "đến",
		"docs.imported":      "đã nhập %d văn bản (%.1f MiB) trong %s: %.1f văn bản/giây, %.1f MiB/giây",
		"docs.failed":        "; %d lỗi",
		"docs.agencies":      "đã nạp %d mã cơ quan",
		"docs.get.title":     "Văn bản %d (%s, %s)",
		"docs.get.fields": "  mã định danh:  %s\n  số, ký hiệu:   %s\n  số đăng ký:    %s\n  loại:          %s\n  trích yếu:     %s\n" +
			"  cơ quan:       %s (lưu tại %s)\n  ngày ban hành: %s\n  ngày đến:      %s\n",
		"docs.get.verdict":       "  kiểm tra chữ ký: %s",
		"docs.get.versions":      "Các phiên bản:",
		"docs.get.version":       "  %d  %s  %d byte  %d chữ ký  %s  bởi %s",
		"docs.get.attachment":    "Tệp đính kèm: %s  %s  %d byte",
		"docs.get.audit":         "Nhật ký:",
		"docs.check.summary":     "văn bản: %d, phiên bản: %d, nội dung đã kiểm tra: %d, sự kiện nhật ký: %d (%s)",
		"docs.check.durable":     "an toàn khi mất điện: %s",
		"docs.check.not_durable": "CẢNH BÁO không an toàn khi mất điện (%s): mất điện có thể làm mất dữ liệu đã ghi",
		"docs.check.temp":        "bản sao tạm do sự cố để lại, đã xóa: %d",
		"docs.check.orphans":     "nội dung hoặc tệp tạm không còn dùng (vô hại): %d",
		"docs.check.removed":     "đã xóa %d",
	},
	langEN: {
		"fault.internal":        "internal error",
		"fault.invalid":         "invalid request",
		"fault.bad-document":    "bad document",
		"fault.too-large":       "too large",
		"fault.unauthenticated": "not authenticated",
		"fault.forbidden":       "forbidden",
		"fault.not-found":       "not found",
		"fault.conflict":        "conflict",
		"fault.expired":         "expired",
		"fault.unavailable":     "unavailable",
		"fault.rate-limited":    "rate limited",
		"fault.timeout":         "timed out",
		"fault.canceled":        "canceled",
		"fault.not-implemented": "not implemented",
		"error.usage":           "usage",

		"help.kyso":                  "Kyso signs and verifies official documents (PAdES, CAdES) and keeps them",
		"help.kyso sign":             "Sign PDF documents as PAdES, other files as detached CAdES (.p7s)",
		"help.kyso verify":           "Verify signed PDF documents (PAdES) and detached CMS/CAdES signatures",
		"help.kyso extend":           "Raise a signed PDF to PAdES B-LT or B-LTA (archive renewal)",
		"help.kyso keys":             "List, generate and certify keys on PKCS#11 tokens and HSMs",
		"help.kyso trust":            "The built-in Vietnamese trust list: NEAC's and Ban Cơ yếu Chính phủ's roots and CAs",
		"help.kyso serve":            "Run the HTTP API (signing, verification, documents)",
		"help.kyso stats":            "Figures of the province report for a period: documents in and out, signatures, certificates",
		"help.kyso docs":             "The document store: import, list, get, check, agencies, approve, issue, receive, export",
		"help.kyso docs import":      "Store files (PDFs or any) as received (incoming) or draft (outgoing) documents",
		"help.kyso docs list":        "Find documents by identifier, number, agency, date range or text in the summary",
		"help.kyso docs get":         "Show a document with its versions and audit trail, or write its content (--out)",
		"help.kyso docs check":       "Verify every stored content hash, the whole audit chain and every document row against it (exit 1 on a problem)",
		"help.kyso docs agencies":    "Load the list of agency identifier codes (code,name,parent_code,valid_from,valid_to)",
		"help.kyso docs approve":     "Approve a draft with the leader's signature (the handwritten image between title and name)",
		"help.kyso docs issue":       "Issue an approved document: number, date, identifier codes and the organisation's signature with the seal",
		"help.kyso docs receive":     "Verify an incoming document, register it with the next incoming number and store it",
		"help.kyso docs export":      "Write an issued document as an edXML packet (QCVN 102:2016) for other agencies",
		"help.kyso registers":        "The outgoing and incoming registers (Decree 30/2020, Appendix IV)",
		"help.kyso registers list":   "Show an agency's register for a period, in number order",
		"help.kyso registers export": "Write a register as CSV (opens in Excel)",

		"long.kyso": `Kyso ("ký số") signs PDF documents as PAdES and other files as CAdES with keys on
USB tokens, HSMs (PKCS#11) and remote signing services, verifies signed documents,
and keeps them in its embedded document store. Language: --lang vi|en (Vietnamese by
default; LANG=en_* is English).`,
		"long.kyso stats": `The figures the province's yearly report counts, for a calendar year (--year, default
this year) or the days --from..--to (both included, yyyy-MM-dd, Vietnam): documents in
and out by type and by status, with the period before; signatures by kind (approve,
issue, sign, verified on receipt) and by key kind; certificates in force by kind and
how many of them signed in the period. Every breakdown adds up to its total. --json
prints the API's JSON (GET /v1/stats).`,
		"long.kyso registers list": `Show an agency's outgoing (--kind out) or incoming (--kind in) register for the days
--from..--to, one row per number in number order, with the columns of Decree 30/2020
Appendix IV. --json prints the API's JSON (GET /v1/registers/entries), --csv FILE
also writes the CSV that kyso registers export writes.`,
		"long.kyso registers export": `Write an agency's register for a period as CSV: a UTF-8 byte-order mark (so that Excel
shows Vietnamese), the header of Decree 30/2020 Appendix IV's book, one row per number
in number order, dates as dd/MM/yyyy — the same bytes as GET /v1/registers/entries.csv.
--csv FILE writes the file (durably, readable by its owner only), else standard output.`,

		"stats.period":                "Period: %s – %s",
		"stats.col.now":               "this period",
		"stats.col.prev":              "period before",
		"stats.col.change":            "change",
		"stats.documents":             "documents (total)",
		"stats.incoming":              "incoming",
		"stats.outgoing":              "outgoing",
		"stats.by_type":               "by type",
		"stats.by_status":             "by status",
		"stats.signed":                "documents signed",
		"stats.signatures":            "signatures",
		"stats.by_kind":               "by kind",
		"stats.by_key":                "by key kind",
		"stats.certificates":          "certificates",
		"stats.certificates.in_force": "in force in the period",
		"stats.certificates.used":     "signed in the period",
		"stats.total":                 "total",
		"stats.unspecified":           "unspecified",
		"status.draft":                "draft",
		"status.approved":             "approved",
		"status.issued":               "issued",
		"status.received":             "received",
		"status.returned":             "returned",
		"sig.approve":                 "approve (leader)",
		"sig.issue":                   "issue (organisation)",
		"sig.sign":                    "other signing",
		"sig.receive":                 "verified on receipt",
		"key.hsm":                     "HSM",
		"key.soft":                    "software key (test)",
		"key.usb_token":               "USB token",
		"key.sim_pki":                 "SIM PKI",
		"key.remote":                  "remote signing (CSC)",
		"key.other":                   "the sender's",
		"cert.organisation":           "organisation",
		"cert.personal_usb_token":     "personal, USB token",
		"cert.personal_sim_pki":       "personal, SIM PKI",
		"cert.personal_remote":        "personal, remote signing",
		"cert.personal_hsm":           "personal, HSM",
		"registers.title.outgoing":    "OUTGOING REGISTER — %s — %s to %s",
		"registers.title.incoming":    "INCOMING REGISTER — %s — %s to %s",
		"registers.rows":              "%d rows",
		"registers.col.outgoing":      "NO.\tDATE\tSYMBOL\tTYPE AND SUMMARY\tSIGNER\tPAGES\tMARKS\tNOTE",
		"registers.col.incoming":      "ARRIVAL NO.\tARRIVED\tISSUER\tNUMBER\tDATED\tTYPE AND SUMMARY\tMARKS\tSIGNATURES\tNOTE",
		"registers.written":           "wrote %d rows to %s",
		"registers.voided":            "voided number",
		"registers.reserved":          "reserved, being issued",
		"registers.withheld":          "classified: withheld",
		"registers.not_issued":        "numbered, not issued",

		"docs.list.header":   "ID\tDIRECTION\tSTATUS\tREG\tNUMBER\tISSUED\tIDENTIFIER\tVERDICT\tSUMMARY",
		"direction.outgoing": "outgoing",
		"direction.incoming": "incoming",
		"docs.imported":      "imported %d documents (%.1f MiB) in %s: %.1f documents/s, %.1f MiB/s",
		"docs.failed":        "; %d failed",
		"docs.agencies":      "loaded %d agency entries",
		"docs.get.title":     "Document %d (%s, %s)",
		"docs.get.fields": "  identifier: %s\n  number:     %s\n  register:   %s\n  type:       %s\n  summary:    %s\n" +
			"  agency:     %s (kept by %s)\n  issued:     %s\n  received:   %s\n",
		"docs.get.verdict":       "  verdict:    %s",
		"docs.get.versions":      "Versions:",
		"docs.get.version":       "  %d  %s  %d bytes  %d signatures  %s  by %s",
		"docs.get.attachment":    "Attachment: %s  %s  %d bytes",
		"docs.get.audit":         "Audit:",
		"docs.check.summary":     "documents: %d, versions: %d, blobs verified: %d, audit events: %d (%s)",
		"docs.check.durable":     "durable: %s",
		"docs.check.not_durable": "WARNING not durable (%s): a power cut may lose committed work",
		"docs.check.temp":        "temporary copies left by a crash, removed: %d",
		"docs.check.orphans":     "unreferenced blobs or temp files (harmless): %d",
		"docs.check.removed":     "removed %d",
	},
}
