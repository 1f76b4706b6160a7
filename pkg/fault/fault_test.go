package fault_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/kyso-vn/kyso/pkg/fault"
)

func TestKindThroughWrapping(t *testing.T) {
	base := fault.Errorf(fault.Conflict, "document %d is issued", 5)
	wrapped := fmt.Errorf("issue: %w", base)
	if got := fault.KindOf(wrapped); got != fault.Conflict {
		t.Fatalf("KindOf = %v, want conflict", got)
	}
	if !errors.Is(wrapped, fault.Conflict) || errors.Is(wrapped, fault.NotFound) {
		t.Fatal("errors.Is does not tell the kind")
	}
	if got := fault.DetailOf(wrapped); got != "document 5 is issued" {
		t.Fatalf("DetailOf = %q", got)
	}
}

func TestCauseStaysOutOfDetail(t *testing.T) {
	err := fault.Wrap(fault.Unavailable, io.ErrUnexpectedEOF, "the timestamp authority did not answer")
	if fault.DetailOf(err) != "the timestamp authority did not answer" {
		t.Fatalf("detail %q", fault.DetailOf(err))
	}
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatal("cause lost")
	}
	if err.Error() != "the timestamp authority did not answer: unexpected EOF" {
		t.Fatalf("Error() = %q", err.Error())
	}
}

func TestOtherErrors(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want fault.Kind
	}{
		{errors.New("boom"), fault.Internal},
		{nil, fault.Internal},
		{fmt.Errorf("x: %w", context.Canceled), fault.Canceled},
		{context.DeadlineExceeded, fault.Timeout},
		{fmt.Errorf("store: %w", fault.NotFound), fault.NotFound},
	} {
		if got := fault.KindOf(tt.err); got != tt.want {
			t.Errorf("KindOf(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if fault.DetailOf(tt.err) != "" {
			t.Errorf("DetailOf(%v) is not empty", tt.err)
		}
	}
}

func TestCodeAndNames(t *testing.T) {
	err := fault.WithCode(fault.New(fault.Forbidden, "you may not sign with this key"), "key-not-granted")
	if fault.CodeOf(fmt.Errorf("w: %w", err)) != "key-not-granted" {
		t.Fatal("code lost")
	}
	seen := map[string]bool{}
	for _, k := range fault.Kinds() {
		if seen[k.String()] || k.String() == "" {
			t.Fatalf("kind %d has a duplicate or empty name %q", k, k)
		}
		seen[k.String()] = true
	}
}
