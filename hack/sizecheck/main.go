// Command sizecheck reports Go files and functions that outgrew the house
// limits: a file longer than -max-file lines (500) or a top-level function
// or method longer than -max-func lines (80), counted from the line of its
// func keyword to the line of its closing brace. Function literals count
// towards the function that holds them, not on their own: a test's t.Run
// body is part of the test.
//
// It walks the module from the current directory (or the directories given
// as arguments), test files included, and skips .git, testdata, vendor,
// bin and generated files (a "// Code generated ... DO NOT EDIT." comment
// before the package clause). It prints one line per offence,
//
//	path: N lines (limit 500)
//	path:line: function NAME is N lines (limit 80)
//
// and exits 1 when it printed any, 2 when it could not read or parse a file.
//
//	go run ./hack/sizecheck [-max-file 500] [-max-func 80] [dir ...]
package main

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// limits holds the largest sizes that pass, in lines.
type limits struct {
	file int
	fn   int
}

// skipDirs are directory names never walked into: not sources of this
// module, or inputs that tests keep as they are on purpose.
var skipDirs = map[string]bool{".git": true, "testdata": true, "vendor": true, "bin": true}

func main() {
	var lim limits
	flag.IntVar(&lim.file, "max-file", 500, "largest number of `lines` a .go file may have")
	flag.IntVar(&lim.fn, "max-func", 80, "largest number of `lines` a top-level function or method may have")
	flag.Parse()
	roots := flag.Args()
	if len(roots) == 0 {
		roots = []string{"."}
	}
	found, err := run(os.Stdout, roots, lim)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sizecheck: %v\n", err)
		os.Exit(2)
	}
	if found > 0 {
		os.Exit(1)
	}
}

// run checks every Go file under roots, writes one line per offence to w
// and returns how many it wrote.
func run(w io.Writer, roots []string, lim limits) (int, error) {
	found := 0
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				if path != root && skipDirs[d.Name()] {
					return filepath.SkipDir
				}
				return nil
			}
			if !strings.HasSuffix(path, ".go") {
				return nil
			}
			offences, err := checkFile(path, lim)
			if err != nil {
				return err
			}
			for _, o := range offences {
				fmt.Fprintln(w, o)
			}
			found += len(offences)
			return nil
		})
		if err != nil {
			return found, err
		}
	}
	return found, nil
}

// checkFile returns the offences of one file, none for a generated one.
func checkFile(path string, lim limits) ([]string, error) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("unable to parse '%s': %w", path, err)
	}
	if ast.IsGenerated(f) {
		return nil, nil
	}
	var offences []string
	if n := fset.File(f.Pos()).LineCount(); n > lim.file {
		offences = append(offences, fmt.Sprintf("%s: %d lines (limit %d)", path, n, lim.file))
	}
	for _, decl := range f.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		start := fset.Position(fn.Type.Func).Line
		n := fset.Position(fn.Body.Rbrace).Line - start + 1
		if n > lim.fn {
			offences = append(offences, fmt.Sprintf("%s:%d: function %s is %d lines (limit %d)",
				path, start, funcName(fn), n, lim.fn))
		}
	}
	return offences, nil
}

// funcName names a function as a reader looks for it: Recv.Name for a
// method, Name otherwise.
func funcName(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	t := fn.Recv.List[0].Type
	for {
		switch x := t.(type) {
		case *ast.StarExpr:
			t = x.X
		case *ast.IndexExpr:
			t = x.X
		case *ast.IndexListExpr:
			t = x.X
		case *ast.ParenExpr:
			t = x.X
		case *ast.Ident:
			return x.Name + "." + fn.Name.Name
		default:
			return fn.Name.Name
		}
	}
}
