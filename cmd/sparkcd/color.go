package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/fatih/color"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// colorModes are the values of --color.
var colorModes = []string{"auto", "always", "never"}

// bindColor adds the root's --color flag.
func bindColor(root *cobra.Command) {
	root.PersistentFlags().String("color", "auto", "colour status phases and check findings: auto (when stdout is a terminal and NO_COLOR is not set), always or never")
}

// checkColor refuses an unknown --color before any command runs.
func checkColor(cmd *cobra.Command, _ []string) error {
	if mode, _ := cmd.Flags().GetString("color"); !slices.Contains(colorModes, mode) {
		return inputError(fmt.Errorf("invalid --color '%s': use one of %s", mode, strings.Join(colorModes, ", ")))
	}
	return nil
}

// isTerminal reports whether w is a terminal; a variable so that a test
// can stand in for one.
var isTerminal = func(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// useColor is --color: always and never as said; auto colours only a
// terminal, never a pipe or a file, and not when NO_COLOR is set to
// anything (no-color.org) or TERM is dumb. An explicit always wins over
// NO_COLOR, as a flag wins over the environment everywhere in sparkcd.
func useColor(cmd *cobra.Command) bool {
	switch mode, _ := cmd.Flags().GetString("color"); mode {
	case "always":
		return true
	case "never":
		return false
	}
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	return isTerminal(cmd.OutOrStdout())
}

// Tones of the coloured words. Each is one SGR code of two digits, so
// every coloured word takes the same bytes and tables stay aligned.
var (
	toneGood = color.New(color.FgGreen)
	toneBad  = color.New(color.FgRed)
	toneWarn = color.New(color.FgYellow)
	toneInfo = color.New(color.FgCyan)
)

func init() {
	// Whether to colour is useColor's decision, not the library's guess
	// from os.Stdout.
	for _, c := range []*color.Color{toneGood, toneBad, toneWarn, toneInfo} {
		c.EnableColor()
	}
}

// paintRule colours the second group of every match of re (the first is
// what must come before it) in tone.
type paintRule struct {
	re   *regexp.Regexp
	tone func(string) string
}

func rule(expr string, tones map[string]*color.Color) paintRule {
	return paintRule{re: regexp.MustCompile(expr), tone: func(s string) string {
		if c := tones[strings.TrimSpace(s)]; c != nil {
			return c.Sprint(s)
		}
		return s
	}}
}

// statusRules colour the Ready status and the run phase cells of status's
// tables and descriptions: after tabwriter has aligned them, so colour
// never shifts a column.
var statusRules = []paintRule{rule(`(^|\s\s|\w=)(True|False|Unknown|Succeeded|Failed|Running|Pending)\b`, map[string]*color.Color{
	"True": toneGood, "Succeeded": toneGood, "False": toneBad, "Failed": toneBad,
	"Unknown": toneWarn, "Pending": toneWarn, "Running": toneInfo,
})}

// checkRules colour check's (and diff's) text: a job's verdict, each
// finding's severity, each policy default, the lines of a unified diff.
var checkRules = []paintRule{
	rule(`^()(ok  |warn|FAIL)\s`, map[string]*color.Color{"ok": toneGood, "warn": toneWarn, "FAIL": toneBad}),
	rule(`^(     )(error|warning|default)\s`, map[string]*color.Color{"error": toneBad, "warning": toneWarn, "default": toneInfo}),
	rule(`^()(ADDED|REMOVED|CHANGED)\s`, map[string]*color.Color{"ADDED": toneGood, "REMOVED": toneBad, "CHANGED": toneWarn}),
	rule(`^(  [+-] )(error|warning)\s`, map[string]*color.Color{"error": toneBad, "warning": toneWarn}),
	{re: regexp.MustCompile(`^()([-+@][^\n]*)`), tone: func(s string) string {
		switch s[0] {
		case '+':
			return toneGood.Sprint(s)
		case '-':
			return toneBad.Sprint(s)
		}
		return toneInfo.Sprint(s)
	}},
}

// painter colours whole lines as they pass to w.
type painter struct {
	w     io.Writer
	rules []paintRule
	buf   []byte
}

// paintedOutput is w, coloured by rules when cmd should colour.
func paintedOutput(cmd *cobra.Command, w io.Writer, rules []paintRule) (io.Writer, func() error) {
	if !useColor(cmd) {
		return w, func() error { return nil }
	}
	p := &painter{w: w, rules: rules}
	return p, p.flush
}

func (p *painter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			return len(b), nil
		}
		if _, err := io.WriteString(p.w, p.paint(string(p.buf[:i+1]))); err != nil {
			return 0, err
		}
		p.buf = p.buf[i+1:]
	}
}

func (p *painter) flush() error {
	if len(p.buf) == 0 {
		return nil
	}
	_, err := io.WriteString(p.w, p.paint(string(p.buf)))
	p.buf = nil
	return err
}

func (p *painter) paint(line string) string {
	for _, r := range p.rules {
		var b strings.Builder
		last := 0
		for _, m := range r.re.FindAllStringSubmatchIndex(line, -1) {
			b.WriteString(line[last:m[4]])
			b.WriteString(r.tone(line[m[4]:m[5]]))
			last = m[5]
		}
		b.WriteString(line[last:])
		line = b.String()
	}
	return line
}
