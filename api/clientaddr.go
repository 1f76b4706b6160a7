package api

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/gin-gonic/gin"
)

// ctxClient holds the client's address (see clientAddr).
const ctxClient = "kyso.client"

// proxies is server.trusted_proxies, parsed.
type proxies []netip.Prefix

func parseProxies(list []string) (proxies, error) {
	var out proxies
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (ps proxies) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientAddr is the address the request came from. The TCP peer, unless the peer is
// a trusted proxy: then X-Forwarded-For is read from the right, each hop being the
// address the proxy to its right saw, and the first hop that is not itself a trusted
// proxy is the client. Everything to the left of it was written by the client and is
// never believed. All X-Forwarded-For lines count, in order, as one list (a proxy may
// add a line rather than extend the last). A hop that is not an address ("unknown",
// garbage) stops the walk at the last address known, a trusted proxy: such clients
// share that proxy's limits rather than escape them. X-Real-IP and Forwarded are not
// read: a proxy that sets only those must also set X-Forwarded-For.
func (ps proxies) clientAddr(remoteAddr string, xff []string) netip.Addr {
	peer, err := netip.ParseAddrPort(remoteAddr)
	var addr netip.Addr
	if err == nil {
		addr = peer.Addr().Unmap()
	} else if a, err := netip.ParseAddr(remoteAddr); err == nil {
		addr = a.Unmap() // tests set a bare address
	} else {
		return netip.Addr{}
	}
	if len(ps) == 0 || !ps.trusted(addr) {
		return addr
	}
	var hops []string
	for _, line := range xff {
		hops = append(hops, strings.Split(line, ",")...)
	}
	for i := len(hops) - 1; i >= 0; i-- {
		h, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return addr
		}
		addr = h.Unmap()
		if !ps.trusted(addr) {
			return addr
		}
	}
	return addr
}

// limitKey is what per-address limits count by: the IPv4 address, or the /64 an IPv6
// address belongs to (one subscriber or host gets a whole /64, so rotating within it
// must not give fresh limits).
func limitKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// withClient sets the client's address for the limits and the access log, before
// anything else reads it.
func (s *Server) withClient(c *gin.Context) {
	c.Set(ctxClient, s.proxies.clientAddr(c.Request.RemoteAddr, c.Request.Header.Values("X-Forwarded-For")))
	c.Next()
}

// client is the request's address as withClient found it.
func client(c *gin.Context) netip.Addr {
	a, _ := c.Get(ctxClient)
	addr, _ := a.(netip.Addr)
	return addr
}

// clientString is the address for logs ("" when unknown).
func clientString(c *gin.Context) string {
	if a := client(c); a.IsValid() {
		return a.String()
	}
	return ""
}
