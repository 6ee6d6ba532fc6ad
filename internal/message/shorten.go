package message

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Ellipsis marks where text was left out.
const Ellipsis = "…"

// Shorten returns s if it has at most n characters (runes), else s cut to
// fit, as Bound describes; n ≤ 0 keeps s whole. It suits a table cell,
// whose width is counted in characters.
func Shorten(s string, n int) string {
	if n <= 0 {
		return s
	}
	return cut(s, 4*n, func(t string) bool { return utf8.RuneCountInString(t) <= n })
}

// Bound returns s if it has at most n bytes, else s cut to fit: at the
// end of a clause ("; ", ": ", ", ") when that keeps most of it, else at
// the end of a word, with the brackets and quotes still open at the cut
// closed after the "…", so "in 'a.yaml' (built from 'overlays/prod')"
// never loses its ")". It suits a Kubernetes field bounded in bytes.
func Bound(s string, n int) string {
	if n <= 0 {
		return s
	}
	return cut(s, n, func(t string) bool { return len(t) <= n })
}

// cut keeps the longest prefix of s for which prefix + "…" + closers fits:
// a clause end if it keeps at least two thirds of what a word end keeps.
// No prefix longer than maxBytes fits, so a long message costs little.
func cut(s string, maxBytes int, fits func(string) bool) string {
	if fits(s) {
		return s
	}
	if len(s) > maxBytes+1 {
		end := maxBytes + 1
		for end > 0 && !utf8.RuneStart(s[end]) {
			end--
		}
		s = s[:end]
	}
	best := ""
	for i := strings.LastIndexByte(s, ' '); i > 0; i = strings.LastIndexByte(s[:i], ' ') {
		if !fits(s[:i]) {
			continue
		}
		t := finish(s[:i])
		if !fits(t) {
			continue
		}
		if best == "" {
			best = t
		}
		if 3*len(t) < 2*len(best) {
			break
		}
		if strings.ContainsRune(";:,", rune(s[i-1])) {
			return t
		}
	}
	if best != "" {
		return best
	}
	// One word longer than the bound: cut it between characters.
	for i := len(s); i > 0; {
		_, size := utf8.DecodeLastRuneInString(s[:i])
		i -= size
		if !fits(s[:i]) {
			continue
		}
		if t := finishWord(s[:i]); fits(t) {
			return t
		}
	}
	return Ellipsis
}

// finish ends a prefix cut at a space: its trailing punctuation dropped,
// " …", then what closes the brackets and quotes left open.
func finish(prefix string) string {
	prefix = strings.TrimRight(prefix, " ,;:")
	return prefix + " " + Ellipsis + closers(prefix)
}

// finishWord ends a prefix cut inside a word.
func finishWord(prefix string) string { return prefix + Ellipsis + closers(prefix) }

// closers returns what closes, innermost first, the brackets and quotes
// open at the end of s. A ' between two letters is an apostrophe
// ("job's"), not a quote.
func closers(s string) string {
	var open []rune
	prev := ' '
	rs := []rune(s)
	for i, r := range rs {
		next := ' '
		if i+1 < len(rs) {
			next = rs[i+1]
		}
		top := rune(0)
		if len(open) > 0 {
			top = open[len(open)-1]
		}
		switch {
		case (r == '\'' || r == '"' || r == '`') && top == r && !isWord(next):
			open = open[:len(open)-1]
		case (r == '\'' || r == '"' || r == '`') && !isWord(prev):
			open = append(open, r)
		case r == '(' || r == '[' || r == '{':
			open = append(open, r)
		case (r == ')' || r == ']' || r == '}') && len(open) > 0 && top == opener(r):
			open = open[:len(open)-1]
		}
		prev = r
	}
	var b strings.Builder
	for i := len(open) - 1; i >= 0; i-- {
		b.WriteRune(closer(open[i]))
	}
	return b.String()
}

func isWord(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

func opener(r rune) rune {
	switch r {
	case ')':
		return '('
	case ']':
		return '['
	}
	return '{'
}

func closer(r rune) rune {
	switch r {
	case '(':
		return ')'
	case '[':
		return ']'
	case '{':
		return '}'
	}
	return r
}
