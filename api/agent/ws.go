package agent

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// wsMessage is what goes both ways on the WebSocket (/api/ws).
//
// A web page first sends {"type":"hello","token":PAIRING_TOKEN}; the agent answers
// {"type":"tokens","tokens":[…]} and again whenever a token is plugged in or pulled
// out. {"type":"sign","request_ids":[…]} lists a job (answer: {"type":"job",
// "job_id","url"} — the page opens url for the person to confirm), and
// {"type":"watch","job_id":…} streams {"type":"progress",…} until the job is done.
// Errors come as {"type":"error","error":…}.
type wsMessage struct {
	Type       string    `json:"type"`
	Token      string    `json:"token,omitempty"`
	Person     string    `json:"person,omitempty"` // hello: the person signed in (as X-Kyso-Person)
	RequestIDs []string  `json:"request_ids,omitempty"`
	JobID      string    `json:"job_id,omitempty"`
	URL        string    `json:"url,omitempty"`
	Tokens     []Token   `json:"tokens,omitempty"`
	Progress   *Progress `json:"progress,omitempty"`
	Error      string    `json:"error,omitempty"`
}

// apiWebSocket serves the WebSocket; the cors middleware has already refused origins
// not on the allow-list, and the accept below checks the Origin once more.
func (s *Server) apiWebSocket(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		problem(w, http.StatusForbidden, "origin not allowed", "")
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: []string{u.Host}})
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	var hello wsMessage
	err = wsjson.Read(hctx, c, &hello)
	cancel()
	if err != nil {
		return
	}
	p, ok := s.agent.cfg.pairingFor(origin, hello.Token)
	if hello.Type != "hello" || !ok || !samePerson(p, hello.Person) {
		_ = wsjson.Write(ctx, c, wsMessage{Type: "error", Error: "not paired"})
		c.Close(websocket.StatusPolicyViolation, "not paired")
		return
	}
	out := make(chan wsMessage, 16)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go s.wsReader(ctx, stop, c, p, out)
	changed, unsubscribe := s.agent.watcher.Subscribe()
	defer unsubscribe()
	toks, _ := s.agent.watcher.Tokens()
	if err := wsjson.Write(ctx, c, wsMessage{Type: "tokens", Tokens: toks}); err != nil {
		return
	}
	for {
		var m wsMessage
		select {
		case <-ctx.Done():
			c.Close(websocket.StatusNormalClosure, "")
			return
		case <-changed:
			toks, _ := s.agent.watcher.Tokens()
			m = wsMessage{Type: "tokens", Tokens: toks}
		case m = <-out:
		}
		if err := wsjson.Write(ctx, c, m); err != nil {
			return
		}
	}
}

// wsReader handles the page's messages, sending answers to out.
func (s *Server) wsReader(ctx context.Context, stop func(), c *websocket.Conn, p Pairing, out chan<- wsMessage) {
	defer stop()
	for {
		var m wsMessage
		if err := wsjson.Read(ctx, c, &m); err != nil {
			return
		}
		switch m.Type {
		case "sign":
			j, err := s.agent.CreateJob(ctx, p, m.RequestIDs)
			if err != nil {
				send(ctx, out, wsMessage{Type: "error", Error: err.Error()})
				continue
			}
			send(ctx, out, wsMessage{Type: "job", JobID: j.ID, URL: s.jobURL(j)})
		case "watch":
			j, ok := s.agent.Job(m.JobID)
			if !ok || !j.of(p) {
				send(ctx, out, wsMessage{Type: "error", JobID: m.JobID, Error: "no such job"})
				continue
			}
			go s.wsWatch(ctx, j, out)
		default:
			send(ctx, out, wsMessage{Type: "error", Error: errors.New("unknown message type " + m.Type).Error()})
		}
	}
}

// wsWatch sends a job's progress at each change until it is done.
func (s *Server) wsWatch(ctx context.Context, j *Job, out chan<- wsMessage) {
	for {
		p, changed := j.Progress()
		for _, it := range p.Items {
			it.Request = nil // the page needs statuses, not digests
		}
		if !send(ctx, out, wsMessage{Type: "progress", JobID: j.ID, Progress: &p}) || p.State == JobDone {
			return
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		}
	}
}

func send(ctx context.Context, out chan<- wsMessage, m wsMessage) bool {
	select {
	case out <- m:
		return true
	case <-ctx.Done():
		return false
	}
}
