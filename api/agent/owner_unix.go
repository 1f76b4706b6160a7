//go:build unix

package agent

import (
	"os"
	"syscall"
)

// ownedByOther reports whether fi's file belongs to another user than the one
// running the agent.
func ownedByOther(fi os.FileInfo) (uid int, other bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return int(st.Uid), int(st.Uid) != os.Getuid()
}
