package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kyso-vn/kyso/internal/vntime"
)

// CongVanPDF makes a draft công văn the way an office makes one in Word: HTML laid
// out as Decree 30/2020 prescribes (agency, "Số:      /UBND-VP" with the number left
// blank, the national motto, "Ninh Thuận, ngày      tháng      năm 2026" with day
// and month blank, the body, the leader's title and name) printed to PDF by headless
// Chromium, in Liberation Serif (Times New Roman's metrics). The test fails, naming
// the Debian package, when chromium is missing.
func CongVanPDF(t testing.TB) []byte {
	t.Helper()
	return congVan(t, "Số:      /UBND-VP", "Ninh Thuận, ngày      tháng      năm 2026")
}

// CongVanPDFWith is CongVanPDF with the number line and the place-and-date line
// given (e.g. without the blanks, to test a draft with no place for them).
func CongVanPDFWith(t testing.TB, numberLine, dateLine string) []byte {
	t.Helper()
	return congVan(t, numberLine, dateLine)
}

func congVan(t testing.TB, numberLine, dateLine string) []byte {
	t.Helper()
	chromium := Tool(t, "chromium", "chromium")
	dir := t.TempDir()
	font := filepath.Join(ModuleRoot(), "signer", "pades", "fonts", "LiberationSerif-Regular.ttf")
	html := strings.NewReplacer("FONT", "file://"+font, "NUMBER", numberLine, "DATE", dateLine).Replace(congVanHTML)
	in := filepath.Join(dir, "cong-van.html")
	out := filepath.Join(dir, "cong-van.pdf")
	if err := os.WriteFile(in, []byte(html), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--print-to-pdf="+out, "file://"+in)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium --print-to-pdf: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const congVanHTML = `<!doctype html><html><head><meta charset="utf-8"><style>
@font-face { font-family: "TNR"; src: url("FONT"); }
@page { size: A4; margin: 20mm 15mm 20mm 30mm; }
body { font-family: "TNR", serif; font-size: 13pt; }
table { width: 100%; border-collapse: collapse; }
td { vertical-align: top; text-align: center; }
.pre { white-space: pre; }
</style></head><body>
<table><tr>
<td style="width:40%">ỦY BAN NHÂN DÂN<br>TỈNH NINH THUẬN<br><br><span class="pre">NUMBER</span></td>
<td>CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM<br>Độc lập - Tự do - Hạnh phúc<br><br><i class="pre">DATE</i></td>
</tr></table>
<p>V/v thử nghiệm ký số văn bản điện tử</p>
<p style="text-align:center">Kính gửi: Văn phòng Chính phủ.</p>
<p style="text-align:justify">Ủy ban nhân dân tỉnh Ninh Thuận báo cáo kết quả thử nghiệm ký số văn bản
điện tử theo Nghị định số 30/2020/NĐ-CP ngày 05 tháng 3 năm 2020 của Chính phủ về công tác văn thư.</p>
<table><tr>
<td style="width:50%;text-align:left;font-size:11pt">Nơi nhận:<br>- Như trên;<br>- Lưu: VT, VP.</td>
<td>TM. ỦY BAN NHÂN DÂN<br>CHỦ TỊCH<br><br><br><br><br><br>Nguyễn Văn A</td>
</tr></table>
</body></html>
`

// PageText is pdftotext -layout of the first page of a PDF, with runs of blanks read
// as one space (a Word draft's blanks keep their width on the page).
func PageText(t testing.TB, pdf []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "page.pdf")
	if err := os.WriteFile(path, pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(Tool(t, "pdftotext", "poppler-utils"), "-layout", "-f", "1", "-l", "1", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	return strings.Join(strings.FieldsFunc(string(out), func(r rune) bool { return r == ' ' || r == '\t' || r == '\u00a0' }), " ")
}

// IssueDayMonth is "ngày DD tháng M năm" as Decree 30/2020 writes the date t (in
// Vietnam's zone): day below 10 and months 1 and 2 with a leading 0. (CongVanPDF
// prints the year itself.)
func IssueDayMonth(t time.Time) string {
	t = t.In(vntime.Zone)
	m := fmt.Sprint(int(t.Month()))
	if t.Month() <= 2 {
		m = "0" + m
	}
	return fmt.Sprintf("ngày %02d tháng %s năm", t.Day(), m)
}
