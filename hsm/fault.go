package hsm

import "github.com/kyso-vn/kyso/pkg/fault"

// withKind gives err a fault kind where the refusal is made, keeping its text and its
// chain (errors.Is(err, ErrPINIncorrect) still holds): the surfaces choose their
// status, exit code and page message from the kind. The text names token labels and
// module paths, so it stays in logs; a surface shows the kind's own words.
func withKind(k fault.Kind, err error) error {
	return &fault.Error{Kind: k, Cause: err}
}
