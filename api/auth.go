package api

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/kyso-vn/kyso/pkg/fault"
)

// APIKeyPrefix starts every API key, so that secret scanners and people recognise one.
const APIKeyPrefix = "kyso_"

// apiKeyShape is the prefix and 32 random bytes in unpadded base64url (43 characters).
var apiKeyShape = regexp.MustCompile(`^kyso_[A-Za-z0-9_-]{43}$`)

// NewAPIKey makes a key and the hash to store for it. The key is shown to its holder
// once and stored nowhere.
func NewAPIKey() (key, hash string) {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, HashAPIKey(key)
}

// HashAPIKey is what the store keeps and looks a key up by: hex SHA-256 of the key.
//
// A fast unsalted hash is right here, where it would be wrong for passwords: the key is
// 256 bits from crypto/rand, so there is no dictionary to try and a stolen table of
// hashes cannot be reversed by brute force, and a deterministic hash lets the store
// find the client with one indexed lookup instead of comparing against every client
// with a slow KDF. A timing difference in that lookup tells an attacker only about
// hashes of keys they already hold.
func HashAPIKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// bearerKey takes the API key out of an Authorization header value.
func bearerKey(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, apiKeyShape.MatchString(token)
}

func principal(c *gin.Context) (Principal, bool) {
	v, ok := c.Get(ctxPrincipal)
	if !ok {
		return Principal{}, false
	}
	return v.(Principal), true
}

// allow authenticates the caller and admits the listed roles only. No Authorization
// header makes the caller the public; a header that is present but wrong is always a
// 401, never a silent fall-back to the public, so a client whose key was revoked
// learns it at once. The public is admitted only where listed, and then within its
// per-address rate.
func (s *Server) allow(roles ...Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		p := Principal{ID: "public", Name: "public", Role: RolePublic}
		if h := c.GetHeader("Authorization"); h != "" {
			key, ok := bearerKey(h)
			if !ok {
				s.unauthenticated(c, "The Authorization header must be \"Bearer kyso_...\" with a Kyso API key.")
				return
			}
			if s.clients == nil {
				s.unauthenticated(c, "This server has no API clients configured.")
				return
			}
			found, err := s.clients.LookupByKeyHash(c.Request.Context(), HashAPIKey(key))
			if fault.KindOf(err) == fault.Unauthenticated {
				s.unauthenticated(c, "The API key is unknown or has been revoked.")
				return
			}
			if err != nil {
				failErr(c, err)
				return
			}
			p = found
		}
		c.Set(ctxPrincipal, p)
		if !slices.Contains(roles, p.Role) {
			if p.Role == RolePublic {
				s.unauthenticated(c, "This endpoint needs an API key.")
				return
			}
			fail(c, probForbidden, "The role "+string(p.Role)+" may not use this endpoint.")
			return
		}
		if p.Role == RolePublic {
			if ok, wait := s.publicLimit.allow(limitKey(client(c))); !ok {
				c.Header("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				fail(c, probRateLimited, "Too many requests from your address without an API key; retry later or use an API key.")
				return
			}
		}
		c.Next()
	}
}

func (s *Server) unauthenticated(c *gin.Context, detail string) {
	c.Header("WWW-Authenticate", `Bearer realm="kyso"`)
	fail(c, probUnauthenticated, detail)
}
