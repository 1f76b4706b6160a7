package web

import "github.com/kyso-vn/kyso/signer/verify"

// text is one string in both languages; the pages are Vietnamese first.
type text struct{ vi, en string }

var texts = map[string]text{
	"title":           {"Kiểm tra chữ ký số trên văn bản", "Check the digital signatures of a document"},
	"brand":           {"Kyso — ký số văn bản", "Kyso — signed documents"},
	"switch":          {"English", "Tiếng Việt"},
	"intro":           {"Chọn hoặc kéo thả tệp PDF đã ký, hoặc tệp chữ ký .p7s cùng tệp nội dung của nó.", "Choose or drop a signed PDF, or a .p7s signature file with the file it signs."},
	"file":            {"Tệp văn bản đã ký (PDF) hoặc tệp chữ ký (.p7s)", "Signed document (PDF) or signature file (.p7s)"},
	"content":         {"Tệp nội dung (chỉ khi kiểm tra tệp .p7s)", "Content file (only with a .p7s)"},
	"drop":            {"Kéo thả tệp vào đây", "Drop the files here"},
	"submit":          {"Kiểm tra", "Check"},
	"notstored":       {"Tệp của bạn chỉ được dùng để kiểm tra và không được lưu trên máy chủ.", "Your file is used only for the check; it is not stored on the server."},
	"uploading":       {"Đang tải lên…", "Uploading…"},
	"checking":        {"Đang kiểm tra…", "Checking…"},
	"again":           {"Kiểm tra tệp khác", "Check another file"},
	"error":           {"Không kiểm tra được", "The check could not be done"},
	"passed":          {"Hợp lệ", "Valid"},
	"failed":          {"Không hợp lệ", "Not valid"},
	"indeterminate":   {"Chưa xác định được", "Cannot be determined"},
	"file-name":       {"Tệp", "File"},
	"validated":       {"Kiểm tra lúc", "Checked at"},
	"signature":       {"Chữ ký", "Signature"},
	"doc-timestamp":   {"Dấu thời gian văn bản", "Document timestamp"},
	"signer":          {"Người ký", "Signed by"},
	"organisation":    {"Cơ quan, tổ chức", "Organisation"},
	"citizen-id":      {"Số định danh cá nhân", "Citizen ID"},
	"tax-code":        {"Mã số thuế", "Tax code"},
	"agency-code":     {"Mã định danh cơ quan", "Agency code"},
	"time":            {"Thời điểm ký", "Signed at"},
	"ca":              {"Tổ chức cấp chứng thư", "Certificate issued by"},
	"pki":             {"Thuộc hệ thống chứng thực", "Trust anchor (PKI)"},
	"no-pki":          {"không lần được tới tổ chức chứng thực tin cậy", "not traced to a trusted authority"},
	"integrity":       {"Toàn vẹn", "Integrity"},
	"coverage":        {"Phạm vi", "Coverage"},
	"whole":           {"toàn bộ văn bản", "the whole document"},
	"partial":         {"một phiên bản trước của văn bản", "an earlier revision of the document"},
	"changes":         {"Thay đổi sau khi ký", "Changes after signing"},
	"no-changes":      {"không có", "none"},
	"allowed":         {"được phép", "allowed"},
	"disallowed":      {"KHÔNG được phép", "NOT allowed"},
	"revision":        {"phiên bản", "revision"},
	"revocation":      {"Tình trạng thu hồi", "Revocation"},
	"level":           {"Mức chữ ký (PAdES)", "Signature level (PAdES)"},
	"reason":          {"Lý do", "Reason"},
	"result":          {"Kết quả kỹ thuật", "Technical result"},
	"download":        {"Tải báo cáo", "Download the report"},
	"print":           {"In / lưu PDF", "Print / save as PDF"},
	"print-note":      {"Bản PDF: dùng chức năng In của trình duyệt (Ctrl+P) rồi chọn “Lưu thành PDF”; trang in chỉ gồm kết quả.", "As PDF: use the browser's Print (Ctrl+P) and choose “Save as PDF”; the printed page holds the result only."},
	"download-xml":    {"Báo cáo kiểm tra ETSI TS 119 102-2 (XML)", "ETSI TS 119 102-2 validation report (XML)"},
	"download-json":   {"Báo cáo Kyso (JSON)", "Kyso report (JSON)"},
	"details":         {"Chi tiết từng chữ ký", "Each signature"},
	"errors":          {"Lỗi", "Errors"},
	"warnings":        {"Cảnh báo", "Warnings"},
	"unknown":         {"không rõ", "unknown"},
	"not-checked":     {"chưa kiểm tra (việc kiểm tra đã dừng ở bước trước)", "not checked (the check stopped at an earlier step)"},
	"no-level":        {"không phải chữ ký PAdES cơ bản", "not a PAdES baseline signature"},
	"lookup-title":    {"Tra cứu văn bản đã ban hành", "Look up an issued document"},
	"recalled":        {"Đã bị thu hồi", "Recalled"},
	"replaced":        {"Đã được thay thế bởi văn bản", "Replaced by the document"},
	"replaced-other":  {"Đã được thay thế bởi văn bản khác", "Replaced by another document"},
	"withdrawn-why":   {"Lý do", "Reason"},
	"withdrawn-by":    {"Căn cứ", "Decision"},
	"agency":          {"Cơ quan ban hành", "Issued by"},
	"number":          {"Số, ký hiệu", "Number and symbol"},
	"date":            {"Ngày ban hành", "Date of issue"},
	"summary":         {"Trích yếu", "Summary"},
	"identifier":      {"Mã định danh văn bản", "Document identifier"},
	"sha256":          {"Mã băm SHA-256 của bản đã ban hành", "SHA-256 of the issued file"},
	"verdicts":        {"Chữ ký trên bản đã ban hành", "Signatures of the issued file"},
	"compare":         {"So sánh với bản bạn đang giữ", "Compare the copy you hold"},
	"compare-file":    {"Tệp bạn nhận được", "The file you received"},
	"compare-submit":  {"So sánh", "Compare"},
	"same":            {"Cùng văn bản: tệp của bạn trùng khớp từng byte với bản đã ban hành.", "The same document: your file is byte for byte the issued file."},
	"not-same":        {"Không phải cùng văn bản: tệp của bạn khác với bản đã ban hành.", "Not the same document: your file differs from the issued file."},
	"your-sha256":     {"Mã băm SHA-256 của tệp bạn gửi", "SHA-256 of your file"},
	"scan-note":       {"Bản in ra giấy rồi quét lại không phải là tệp đã ký: chữ ký số chỉ kiểm tra được trên tệp điện tử. Với bản giấy, hãy đối chiếu mã định danh, số, ký hiệu và ngày ban hành ở trên.", "A printed copy scanned back is not the signed file: digital signatures can only be checked on the electronic file. For a paper copy, compare the identifier, number and symbol, and date above."},
	"scan-note-short": {"Bản in ra giấy rồi quét lại không phải là tệp đã ký: chữ ký số chỉ kiểm tra được trên tệp điện tử. Với bản giấy, hãy tra cứu theo mã định danh in trên văn bản rồi đối chiếu số, ký hiệu và ngày ban hành.", "A printed copy scanned back is not the signed file: digital signatures can only be checked on the electronic file. For a paper copy, look up the identifier printed on it and compare the number and symbol, and the date."},
	"lookup-label":    {"Mã định danh văn bản (in trên văn bản)", "Document identifier (printed on the document)"},
	"lookup-submit":   {"Tra cứu", "Look up"},
	"not-found":       {"Không tìm thấy văn bản công khai có mã định danh này.", "No public document has this identifier."},
	"not-found-help":  {"Hãy kiểm tra lại mã định danh (dạng 000.00.00.H43,2025/03/05,05/UBND-VP) hoặc liên hệ cơ quan ban hành.", "Check the identifier (like 000.00.00.H43,2025/03/05,05/UBND-VP) or ask the issuing agency."},
	"home":            {"Trang kiểm tra chữ ký", "Signature check"},
	"footer":          {"Kết quả theo ETSI EN 319 102-1. Chỉ các tổ chức chứng thực được cấu hình trên máy chủ này được tin cậy.", "Results per ETSI EN 319 102-1. Only the certification authorities configured on this server are trusted."},
}

var timeSources = map[string]text{
	"timestamp":          {"được chứng minh bằng dấu thời gian", "proven by a timestamp"},
	"document-timestamp": {"được chứng minh bằng dấu thời gian văn bản sau đó", "proven by a later document timestamp"},
	"claimed":            {"do người ký tự khai, chưa được chứng minh", "claimed by the signer, not proven"},
	"validation-time":    {"không rõ", "unknown"},
}

var integrities = map[string]text{
	verify.IntegrityIntact:      {"nguyên vẹn: nội dung đã ký không bị thay đổi", "intact: the signed content is unchanged"},
	verify.IntegrityHashFailure: {"nội dung đã ký bị thay đổi", "the signed content was changed"},
	verify.IntegritySigFailure:  {"giá trị chữ ký sai", "the signature value does not verify"},
	verify.IntegrityFormat:      {"lỗi định dạng", "malformed"},
	verify.IntegrityUnsupported: {"thuật toán không được hỗ trợ", "unsupported algorithm"},
}

var kinds = map[string]text{
	verify.KindNone:        {"không thay đổi nội dung", "no change"},
	verify.KindSignature:   {"thêm chữ ký, dấu thời gian hoặc dữ liệu kiểm tra", "signatures, timestamps or validation data added"},
	verify.KindMetadata:    {"thông tin mô tả", "metadata"},
	verify.KindFormFilling: {"điền biểu mẫu (số, ngày ban hành…)", "form filling (number, date…)"},
	verify.KindAnnotation:  {"chú thích", "annotations"},
	verify.KindOther:       {"thay đổi nội dung hoặc cấu trúc", "content or structure changed"},
}

var revocations = map[string]text{
	"good":    {"chưa bị thu hồi", "not revoked"},
	"revoked": {"ĐÃ BỊ THU HỒI", "REVOKED"},
	"unknown": {"chưa kiểm tra được", "could not be checked"},
}

var revocationSources = map[string]text{
	"dss":  {"theo dữ liệu kiểm tra trong văn bản", "from the validation data in the document"},
	"cms":  {"theo dữ liệu trong chữ ký", "from the data in the signature"},
	"ocsp": {"theo OCSP", "by OCSP"},
	"crl":  {"theo danh sách thu hồi (CRL)", "by the revocation list (CRL)"},
	"none": {"không có nguồn", "no source"},
}

var subIndications = map[verify.SubIndication]text{
	verify.FormatFailure:             {"Chữ ký hoặc tệp bị lỗi định dạng", "The signature or the file is malformed"},
	verify.HashFailure:               {"Nội dung đã ký bị thay đổi", "The signed content was changed"},
	verify.SigCryptoFailure:          {"Giá trị chữ ký không khớp với chứng thư", "The signature value does not match the certificate"},
	verify.Revoked:                   {"Chứng thư đã bị thu hồi trước thời điểm ký", "The certificate was revoked before the time of signing"},
	verify.RevokedNoPOE:              {"Chứng thư đã bị thu hồi và không có dấu thời gian chứng minh chữ ký có trước đó", "The certificate is revoked and no timestamp proves the signature is older"},
	verify.NoCertificateChainFound:   {"Không xây dựng được chuỗi chứng thư tới tổ chức chứng thực tin cậy", "No certificate chain to a trusted authority"},
	verify.NoSigningCertificateFound: {"Không tìm thấy chứng thư của người ký", "The signer's certificate is missing"},
	verify.OutOfBoundsNoPOE:          {"Chứng thư đã hết hạn và không có dấu thời gian chứng minh thời điểm ký", "The certificate has expired and no timestamp proves when the signature was made"},
	verify.OutOfBoundsNotRevoked:     {"Chứng thư đã hết hạn và không có dấu thời gian", "The certificate has expired and no timestamp proves when the signature was made"},
	verify.NotYetValid:               {"Chữ ký được tạo trước khi chứng thư có hiệu lực", "The signature was made before the certificate was valid"},
	verify.TryLater:                  {"Chưa kiểm tra được tình trạng thu hồi của chứng thư", "The certificate's revocation status could not be checked"},
	verify.CryptoConstraintsFailure:  {"Thuật toán hoặc độ dài khóa không được chấp nhận", "The algorithm or key size is not accepted"},
	verify.SigConstraintsFailure:     {"Chứng thư không được phép dùng để ký văn bản", "The certificate may not be used to sign documents"},
	verify.ModifiedAfterSigning:      {"Văn bản bị sửa đổi sau khi ký theo cách không được phép", "The document was changed after signing in a way its permissions do not allow"},
}

func (t text) in(l verify.Lang) string {
	if l == verify.English {
		return t.en
	}
	return t.vi
}
