package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

// inputExts are the extensions of the files classify reads: the image
// formats imagenet.Decode accepts and raw .f32 tensors.
var inputExts = append(slices.Clip(imagenet.Extensions), ".f32")

// hasExt reports whether name has one of exts, in any case.
func hasExt(name string, exts []string) bool {
	return slices.Contains(exts, strings.ToLower(filepath.Ext(name)))
}

// knownInput reports whether classify reads name, by its extension.
func knownInput(name string) bool { return hasExt(name, inputExts) }

// input is one thing classify was asked for: a file to read, or an
// argument that names none (err says why, naming it).
type input struct {
	path string
	err  error
}

// inputList is what classify's arguments name, in order.
type inputList struct {
	inputs []input
	// skipped counts the files inside folders and glob matches with
	// another extension, and skippedDirs the folders a glob matched
	// without -r.
	skipped, skippedDirs int
}

// readable is the number of inputs that are files to read.
func (l inputList) readable() int {
	n := 0
	for _, in := range l.inputs {
		if in.err == nil {
			n++
		}
	}
	return n
}

// skippedNote says what the expansion left out ("" when nothing).
func (l inputList) skippedNote() string {
	var parts []string
	if l.skipped > 0 {
		parts = append(parts, fmt.Sprintf("%d %s without an image or .f32 extension", l.skipped, plural(l.skipped, "file")))
	}
	if l.skippedDirs > 0 {
		parts = append(parts, fmt.Sprintf("%d %s (use -r)", l.skippedDirs, plural(l.skippedDirs, "folder")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "skipped " + strings.Join(parts, " and ")
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// expandInputs turns classify's arguments into inputs, in order: a file
// as itself, a folder (with recursive) as its files with inputExts in
// sorted order, a glob pattern that names no file as its sorted matches,
// "-" as the paths listed on stdin (one a line), and then the paths
// listed in the file filesFrom ("-": stdin). Listed paths are taken as
// named, without glob expansion. Missing files are left for the reader to
// report; other problems with an argument become an input with an error.
func expandInputs(args []string, filesFrom string, recursive bool, stdin io.Reader) (inputList, error) {
	var l inputList
	usedStdin := false
	readList := func(name string) error {
		r := stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return fmt.Errorf("--files-from: %w", err)
			}
			defer f.Close()
			r = f
		} else if usedStdin {
			return fmt.Errorf("stdin is named twice (by - and --files-from -): %w", errUsage)
		}
		usedStdin = usedStdin || name == "-"
		paths, err := readLines(r)
		if err != nil {
			return fmt.Errorf("reading the list %s: %w", name, err)
		}
		for _, p := range paths {
			l.named(p, recursive)
		}
		return nil
	}
	for _, a := range args {
		if a == "-" {
			if err := readList("-"); err != nil {
				return l, err
			}
			continue
		}
		if _, err := os.Lstat(a); err != nil && strings.ContainsAny(a, "*?[") {
			l.glob(a, recursive)
			continue
		}
		l.named(a, recursive)
	}
	if filesFrom != "" {
		if err := readList(filesFrom); err != nil {
			return l, err
		}
	}
	return l, nil
}

// readLines returns the non-empty lines of r, without a trailing "\r".
func readLines(r io.Reader) ([]string, error) {
	var out []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSuffix(sc.Text(), "\r"); s != "" {
			out = append(out, s)
		}
	}
	return out, sc.Err()
}

// named adds a path given by name: a folder needs recursive, and a file
// needs one of inputExts.
func (l *inputList) named(p string, recursive bool) {
	st, err := os.Stat(p)
	switch {
	case err != nil:
		l.inputs = append(l.inputs, input{path: p}) // the reader says why it cannot be read
	case st.IsDir() && !recursive:
		l.inputs = append(l.inputs, input{path: p, err: fmt.Errorf("%s: is a directory (use -r)", p)})
	case st.IsDir():
		l.walk(p)
	case !knownInput(p):
		l.inputs = append(l.inputs, input{path: p, err: fmt.Errorf("%s: unknown extension %q (want one of %s)", p, filepath.Ext(p), strings.Join(inputExts, " "))})
	default:
		l.inputs = append(l.inputs, input{path: p})
	}
}

// glob adds the sorted matches of a pattern, as a folder's entries: files
// with other extensions are skipped, and so are folders without recursive.
func (l *inputList) glob(pattern string, recursive bool) {
	matches, err := filepath.Glob(pattern)
	if err != nil {
		l.inputs = append(l.inputs, input{path: pattern, err: fmt.Errorf("%s: %w", pattern, err)})
		return
	}
	if len(matches) == 0 {
		l.inputs = append(l.inputs, input{path: pattern, err: fmt.Errorf("%s: no such file, and no file matches it", pattern)})
		return
	}
	for _, m := range matches {
		st, err := os.Stat(m)
		switch {
		case err != nil:
			l.inputs = append(l.inputs, input{path: m, err: err})
		case st.IsDir() && recursive:
			l.walk(m)
		case st.IsDir():
			l.skippedDirs++
		case knownInput(m):
			l.inputs = append(l.inputs, input{path: m})
		default:
			l.skipped++
		}
	}
}

// walk adds the files with inputExts under dir, in lexical order; a
// folder with none is an error.
func (l *inputList) walk(dir string) {
	n, skipped := len(l.inputs), l.skipped
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			l.inputs = append(l.inputs, input{path: p, err: fmt.Errorf("%s: %w", p, err)})
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
		case d.IsDir():
		case knownInput(p):
			l.inputs = append(l.inputs, input{path: p})
		default:
			l.skipped++
		}
		return nil
	})
	if err != nil { // WalkDir reports every error to the function above, which returns none
		l.inputs = append(l.inputs, input{path: dir, err: err})
	}
	if len(l.inputs) == n {
		l.inputs = append(l.inputs, input{path: dir, err: fmt.Errorf("%s: no images or .f32 tensors in it (%d other %s)", dir, l.skipped-skipped, plural(l.skipped-skipped, "file"))})
	}
}
