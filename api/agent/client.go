package agent

import (
	"bytes"
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kyso-vn/kyso/pkg/wire"
)

// Errors of the server's answers a caller branches on.
var (
	// ErrNotPending: the request was completed already (a replay) or is being
	// completed; the server answered 409, or showed a status other than pending.
	ErrNotPending = errors.New("agent: the signing request is not pending (completed already?)")
	// ErrExpired: the server answered 410.
	ErrExpired = errors.New("agent: the signing request expired")
	// ErrUnknownRequest: the server answered 404.
	ErrUnknownRequest = errors.New("agent: no such signing request")
	// ErrServer: any other refusal; the message carries the problem's title.
	ErrServer = errors.New("agent: the server refused")
)

// Request is a prepared signature as the server shows it (GET /v1/signatures/{id}):
// the wire contract, not a copy of it.
type Request = wire.Pending

// SignerOpts turns a request's algorithm ("RSA-PKCS1v15-SHA-256", "RSA-PSS-SHA-256",
// "ECDSA-SHA-384", …) into the options to sign its digest with.
func SignerOpts(algorithm string) (crypto.SignerOpts, error) { return wire.SignerOpts(algorithm) }

// Client talks to a paired Kyso server. Its API key is never logged.
type Client struct {
	base   string
	apiKey string
	http   *http.Client
}

// NewClient returns a client of the server at base (e.g. https://kyso.example.vn).
func NewClient(base, apiKey string, hc *http.Client) *Client {
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	return &Client{base: strings.TrimRight(base, "/"), apiKey: apiKey, http: hc}
}

// Get fetches a signing request.
func (c *Client) Get(ctx context.Context, id string) (*Request, error) {
	var r Request
	if err := c.do(ctx, http.MethodGet, "/v1/signatures/"+url.PathEscape(id), nil, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Complete sends the signature over the request's digest.
func (c *Client) Complete(ctx context.Context, id string, sig []byte) (*Request, error) {
	body, _ := json.Marshal(wire.Completion{Signature: sig})
	var r Request
	if err := c.do(ctx, http.MethodPost, "/v1/signatures/"+url.PathEscape(id)+"/complete", body, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("agent: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("agent: calling the server: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("agent: reading the server's answer: %w", err)
	}
	if resp.StatusCode/100 == 2 {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("agent: the server's answer: %w", err)
		}
		return nil
	}
	var p struct {
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(raw, &p)
	msg := strings.TrimSpace(p.Title + ": " + p.Detail)
	switch resp.StatusCode {
	case http.StatusNotFound:
		return fmt.Errorf("%w (%s)", ErrUnknownRequest, msg)
	case http.StatusGone:
		return fmt.Errorf("%w (%s)", ErrExpired, msg)
	case http.StatusConflict:
		return fmt.Errorf("%w (%s)", ErrNotPending, msg)
	}
	return fmt.Errorf("%w: HTTP %d %s", ErrServer, resp.StatusCode, msg)
}
