package sizecheck

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// root is the module's root, from this package's directory.
const root = "../.."

// pending are the functions known to be over the limit, each with why it
// is not split yet. An entry whose function is within the limit fails the
// test, so the list only shrinks.
var pending = map[string]string{}

// TestSizes fails for every non-test Go file over MaxFileLines lines and
// every function over MaxFuncLines.
func TestSizes(t *testing.T) {
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		files++
		for _, p := range oversized(t, path) {
			t.Error(p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d Go files below %s: is root right?", files, root)
	}
}

// oversized parses path and describes what in it is over the limits.
func oversized(t *testing.T, path string) []string {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	rel, _ := filepath.Rel(root, path)
	var out []string
	if n := fset.File(f.Pos()).LineCount(); n > MaxFileLines {
		out = append(out, fmt.Sprintf("%s: %d lines, over %d", rel, n, MaxFileLines))
	}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		start, end := fset.Position(fn.Pos()), fset.Position(fn.End())
		n := end.Line - start.Line + 1
		key := filepath.ToSlash(rel) + ":" + name(fn)
		_, allowed := pending[key]
		switch {
		case n > MaxFuncLines && !allowed:
			out = append(out, fmt.Sprintf("%s:%d: func %s is %d lines, over %d", rel, start.Line, name(fn), n, MaxFuncLines))
		case n <= MaxFuncLines && allowed:
			out = append(out, fmt.Sprintf("%s: func %s is %d lines now: remove it from pending", rel, name(fn), n))
		}
	}
	return out
}

// name is fn's name, with its receiver's type for a method.
func name(fn *ast.FuncDecl) string {
	if fn.Recv == nil || len(fn.Recv.List) == 0 {
		return fn.Name.Name
	}
	var recv string
	switch x := fn.Recv.List[0].Type.(type) {
	case *ast.StarExpr:
		recv = "*" + typeName(x.X)
	default:
		recv = typeName(x)
	}
	return "(" + recv + ")." + fn.Name.Name
}

// typeName is the name of a receiver type.
func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.IndexExpr:
		return typeName(x.X)
	case *ast.IndexListExpr:
		return typeName(x.X)
	}
	return "?"
}
