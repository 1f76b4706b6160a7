package main

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/kyso-vn/kyso/api/agent"
	"github.com/kyso-vn/kyso/internal/durable"
)

//go:embed kyso-agent.service
var unitTemplate string

// The places install writes, for one user, by the XDG base directory rules.
type installPaths struct {
	config    string // the configuration file
	bin       string // the installed binary
	autostart string // $XDG_CONFIG_HOME/autostart/kyso-agent.desktop
	unit      string // $XDG_CONFIG_HOME/systemd/user/kyso-agent.service
	home      string
}

func (rf *rootFlags) installPaths(binDir string) (installPaths, error) {
	var p installPaths
	confDir, err := os.UserConfigDir()
	if err != nil {
		return p, &exitError{code: 2, err: fmt.Errorf("no configuration directory: %w", err)}
	}
	if p.home, err = os.UserHomeDir(); err != nil {
		return p, &exitError{code: 2, err: fmt.Errorf("no home directory: %w", err)}
	}
	p.config = rf.config
	if p.config == "" {
		p.config = filepath.Join(confDir, "kyso-agent", "config.yaml")
	}
	if p.config, err = filepath.Abs(p.config); err != nil {
		return p, &exitError{code: 2, err: err}
	}
	if binDir == "" {
		binDir = filepath.Join(p.home, ".local", "bin")
	}
	if binDir, err = filepath.Abs(binDir); err != nil {
		return p, &exitError{code: 2, err: err}
	}
	p.bin = filepath.Join(binDir, "kyso-agent")
	p.autostart = filepath.Join(confDir, "autostart", "kyso-agent.desktop")
	p.unit = filepath.Join(confDir, "systemd", "user", "kyso-agent.service")
	return p, nil
}

// desktopOS refuses Windows and macOS, which have neither XDG autostart nor systemd:
// their README section says how to start the agent at logon there.
func desktopOS() error {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return &exitError{code: 2, err: fmt.Errorf("install sets up Linux and other XDG desktops; on %s start \"kyso-agent serve\" at logon "+
			"as cmd/kyso-agent/README.md says (Building for Windows and macOS)", runtime.GOOS)}
	}
	return nil
}

// userBus says whether this session has a user bus systemctl --user can talk to: the
// address in DBUS_SESSION_BUS_ADDRESS, or the socket $XDG_RUNTIME_DIR/bus that
// systemd's user manager opens. Without one (a desktop started without systemd's user
// session, a remote X session, su to the user) systemctl --user fails.
func userBus() (string, bool) {
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" {
		return a, true
	}
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if st, err := os.Stat(filepath.Join(d, "bus")); err == nil && st.Mode()&os.ModeSocket != 0 {
			return "unix:path=" + filepath.Join(d, "bus"), true
		}
	}
	return "", false
}

func newInstallCmd(rf *rootFlags) *cobra.Command {
	var binDir string
	var origins, modules []string
	cmd := &cobra.Command{
		Use:   "install",
		Short: "Install the agent for this user: configuration, autostart at login, systemd user unit",
		Long: `Install the agent for the user running it, without root:

  - the configuration ($XDG_CONFIG_HOME/kyso-agent/config.yaml, or --config), created
    when missing, with mode 0600 in a 0700 directory; an existing one is chmod'ed so;
    --origin and --module are added to it;
  - the binary, copied to ~/.local/bin/kyso-agent (--bin-dir) unless it runs from there;
  - an XDG autostart entry ($XDG_CONFIG_HOME/autostart/kyso-agent.desktop), which
    desktop sessions (GNOME, KDE, XFCE, Cinnamon, MATE, LXQt) run at login;
  - when the session has a user bus, the systemd user unit, enabled and started.

Without a user bus (DBUS_SESSION_BUS_ADDRESS unset and no $XDG_RUNTIME_DIR/bus) only
the autostart entry starts the agent, at the next login; run "kyso-agent serve" to
start it now. When both start it, the second finds the first serving and exits.
"kyso-agent uninstall" removes what install wrote.`,
		Example: `  kyso-agent install --origin https://kyso.ubnd.example.vn --module /usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
  kyso-agent install                  # again after an upgrade: the configuration is kept`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := desktopOS(); err != nil {
				return err
			}
			p, err := rf.installPaths(binDir)
			if err != nil {
				return err
			}
			return install(cmd.OutOrStdout(), rf, p, origins, modules)
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "where to copy the binary (default ~/.local/bin)")
	cmd.Flags().StringSliceVar(&origins, "origin", nil, "web origin allowed to call the agent (repeatable), e.g. https://kyso.ubnd.example.vn")
	cmd.Flags().StringSliceVar(&modules, "module", nil, "PKCS#11 module of your tokens (repeatable, absolute path)")
	return cmd
}

func install(out io.Writer, rf *rootFlags, p installPaths, origins, modules []string) error {
	fail := func(err error) error { return &exitError{code: 1, err: err} }
	if err := writeConfig(out, p.config, origins, modules); err != nil {
		return err
	}
	fmt.Fprintf(out, "configuration: %s (0600)\n", p.config)

	self, err := os.Executable()
	if err == nil {
		self, err = filepath.EvalSymlinks(self)
	}
	if err != nil {
		return fail(fmt.Errorf("finding this program: %w", err))
	}
	if self != p.bin {
		if err := copyBinary(self, p.bin); err != nil {
			return fail(err)
		}
	}
	fmt.Fprintf(out, "program: %s\n", p.bin)

	args := []string{p.bin, "serve"}
	if rf.config != "" {
		args = append(args, "--config", p.config)
	}
	if err := os.MkdirAll(filepath.Dir(p.autostart), 0o755); err != nil {
		return fail(err)
	}
	if err := durable.WriteFile(p.autostart, []byte(desktopEntry(args)), 0o644); err != nil {
		return fail(fmt.Errorf("writing the autostart entry: %w", err))
	}
	fmt.Fprintf(out, "autostart at login: %s\n", p.autostart)

	bus, ok := userBus()
	if !ok {
		fmt.Fprintf(out, "no user bus (DBUS_SESSION_BUS_ADDRESS unset, no $XDG_RUNTIME_DIR/bus): the systemd user unit is not installed;\n"+
			"the agent starts at your next desktop login; to start it now: %s &\n", strings.Join(quoteAll(args, agent.ShellQuote), " "))
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p.unit), 0o755); err != nil {
		return fail(err)
	}
	if err := durable.WriteFile(p.unit, []byte(unitFile(p, args)), 0o644); err != nil {
		return fail(fmt.Errorf("writing the systemd user unit: %w", err))
	}
	fmt.Fprintf(out, "systemd user unit: %s\n", p.unit)
	for _, sc := range [][]string{{"daemon-reload"}, {"enable", "--now", "kyso-agent.service"}} {
		if msg, err := systemctl(sc...); err != nil {
			// The autostart entry still starts the agent: a unit that cannot be
			// enabled is a warning, not a failed install.
			fmt.Fprintf(out, "warning: systemctl --user %s failed (bus %s): %v %s\n"+
				"the agent starts at your next desktop login; to start it now: %s &\n",
				strings.Join(sc, " "), bus, err, msg, strings.Join(quoteAll(args, agent.ShellQuote), " "))
			return nil
		}
	}
	fmt.Fprintln(out, "started: systemctl --user status kyso-agent; its log: journalctl --user -u kyso-agent")
	return nil
}

// writeConfig creates or updates the configuration with mode 0600 in a 0700
// directory. An existing file's mode is set first, so that LoadConfig's rules (which
// refuse a readable file holding API keys) do not stop the one command meant to fix
// it; the person is told when keys may have been read, or the file changed by others.
func writeConfig(out io.Writer, path string, origins, modules []string) error {
	fail := func(err error) error { return &exitError{code: 1, err: err} }
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fail(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fail(err)
	}
	if st, err := os.Stat(path); err == nil {
		if perm := st.Mode().Perm(); perm&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return fail(fmt.Errorf("%s has mode %#o and cannot be changed to 0600: %w", path, perm, err))
			}
			fmt.Fprintf(out, "warning: %s had mode %#o; now 0600. ", path, perm)
			if perm&0o022 != 0 {
				fmt.Fprint(out, "Others could change it: check its modules and allowed_origins. ")
			}
			fmt.Fprintln(out, "If it held API keys (pairings) and others use this computer, have the server's admin replace them.")
		}
	}
	cfg, err := agent.LoadConfig(path)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	for _, o := range origins {
		if !slices.Contains(cfg.AllowedOrigins, strings.ToLower(strings.TrimRight(o, "/"))) {
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	for _, m := range modules {
		if !slices.ContainsFunc(cfg.Modules, func(x agent.Module) bool { return x.Path == m }) {
			cfg.Modules = append(cfg.Modules, agent.Module{Path: m})
		}
	}
	if err := cfg.Check(); err != nil {
		return &exitError{code: 2, err: err}
	}
	if err := cfg.Save(); err != nil {
		return fail(err)
	}
	// Save writes 0600 through a temporary file; chmod again whatever the umask did.
	if err := os.Chmod(path, 0o600); err != nil {
		return fail(err)
	}
	return nil
}

// copyBinary copies the running program to target (0755), whole or not at all.
func copyBinary(self, target string) error {
	src, err := os.Open(self)
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	dst, err := durable.Create(target, 0o755)
	if err != nil {
		return err
	}
	defer dst.Discard()
	if _, err := io.Copy(dst, src); err != nil {
		return fmt.Errorf("copying the program to %s: %w", target, err)
	}
	if err := dst.Commit(); err != nil {
		return err
	}
	return os.Chmod(target, 0o755)
}

// desktopEntry is the XDG autostart entry running args (Desktop Entry Specification
// 1.5, "The Exec key": arguments quoted, '%' doubled).
func desktopEntry(args []string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=Kyso agent (ký số)\n" +
		"Comment=Sign with your USB token for Kyso / Ký số bằng USB token\n" +
		"Exec=" + strings.Join(quoteAll(args, desktopWord), " ") + "\n" +
		"Terminal=false\n" +
		"NoDisplay=true\n" +
		"X-GNOME-Autostart-enabled=true\n"
}

// unitFile is the embedded systemd user unit, its program and configuration
// directory set to where install put them.
func unitFile(p installPaths, args []string) string {
	u := unitTemplate
	if want := filepath.Join(p.home, ".local", "bin", "kyso-agent"); p.bin != want || len(args) > 2 {
		u = strings.Replace(u, "ExecStart=%h/.local/bin/kyso-agent serve", "ExecStart="+strings.Join(quoteAll(args, unitWord), " "), 1)
	}
	if dir := filepath.Dir(p.config); dir != filepath.Join(p.home, ".config", "kyso-agent") {
		u = strings.ReplaceAll(u, "%h/.config/kyso-agent", unitWord(dir))
	}
	return u
}

func quoteAll(args []string, q func(string) string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = q(a)
	}
	return out
}

const plainChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:@,="

// desktopWord quotes an argument of a desktop entry's Exec key.
func desktopWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && strings.Trim(s, plainChars+"%") == "" {
		return s
	}
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "`", "\\`", "$", `\$`)
	return `"` + r.Replace(s) + `"`
}

// unitWord quotes a word of a systemd unit's command line ('%' is a specifier).
func unitWord(s string) string {
	s = strings.ReplaceAll(s, "%", "%%")
	if s != "" && strings.Trim(s, plainChars+"%") == "" {
		return s
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// systemctl runs systemctl --user with args and returns its output on failure.
func systemctl(args ...string) (string, error) {
	path, err := exec.LookPath("systemctl")
	if err != nil {
		return "", errors.New("systemctl is not installed")
	}
	out, err := exec.Command(path, append([]string{"--user"}, args...)...).CombinedOutput()
	if err != nil {
		return strings.TrimSpace(string(out)), err
	}
	return "", nil
}

func newUninstallCmd(rf *rootFlags) *cobra.Command {
	var binDir string
	var purge bool
	cmd := &cobra.Command{
		Use:   "uninstall",
		Short: "Remove what install wrote (the configuration stays unless --purge)",
		Long: `Stop and remove the systemd user unit (when the session has a user bus), the
autostart entry and the installed binary. The configuration, with its pairings, stays
for a later install unless --purge is given.`,
		Example: `  kyso-agent uninstall
  kyso-agent uninstall --purge        # the configuration and its pairings too`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := desktopOS(); err != nil {
				return err
			}
			p, err := rf.installPaths(binDir)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if _, ok := userBus(); ok {
				if msg, err := systemctl("disable", "--now", "kyso-agent.service"); err != nil {
					fmt.Fprintf(out, "warning: systemctl --user disable --now kyso-agent.service: %v %s\n", err, msg)
				}
			}
			targets := []string{p.unit, p.autostart, p.bin}
			if purge {
				targets = append(targets, p.config)
			}
			var failed []string
			for _, f := range targets {
				switch err := os.Remove(f); {
				case err == nil:
					fmt.Fprintf(out, "removed %s\n", f)
				case !errors.Is(err, os.ErrNotExist):
					failed = append(failed, err.Error())
				}
			}
			if _, ok := userBus(); ok {
				_, _ = systemctl("daemon-reload")
			}
			if !purge {
				fmt.Fprintf(out, "kept the configuration and its pairings: %s (--purge removes it)\n", p.config)
			}
			if len(failed) > 0 {
				return &exitError{code: 1, err: errors.New(strings.Join(failed, "; "))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&binDir, "bin-dir", "", "where install copied the binary (default ~/.local/bin)")
	cmd.Flags().BoolVar(&purge, "purge", false, "remove the configuration and its pairings too")
	return cmd
}
