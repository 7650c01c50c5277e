package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// inputTree makes a folder of empty files (their contents do not matter
// to the expansion) and returns its path.
func inputTree(t *testing.T, files ...string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range files {
		p := filepath.Join(dir, f)
		folder := filepath.Dir(p)
		if strings.HasSuffix(f, "/") {
			folder = p
		}
		if err := os.MkdirAll(folder, 0o755); err != nil {
			t.Fatal(err)
		}
		if folder == p {
			continue
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// describe writes an expansion as "path" or "path!reason" per input,
// relative to dir.
func describe(dir string, l inputList) []string {
	var out []string
	for _, in := range l.inputs {
		s := strings.TrimPrefix(in.path, dir+"/")
		if in.err != nil {
			s += "!" + strings.ReplaceAll(in.err.Error(), dir+"/", "")
		}
		out = append(out, s)
	}
	return out
}

func TestExpandInputs(t *testing.T) {
	dir := inputTree(t, "b.JPG", "a.png", "notes.txt", "sub/z.webp", "sub/deeper/y.f32", "sub/.DS_Store", "empty/", "c.tiff")
	in := func(p string) string { return filepath.Join(dir, p) }
	for _, c := range []struct {
		name      string
		args      []string
		recursive bool
		want      []string
		skipped   int
		dirs      int
	}{
		{"files in order given", []string{in("b.JPG"), in("a.png")}, false, []string{"b.JPG", "a.png"}, 0, 0},
		{"a missing file is left to the reader", []string{in("gone.png")}, false, []string{"gone.png"}, 0, 0},
		{"a named file with another extension", []string{in("notes.txt")}, false,
			[]string{`notes.txt!notes.txt: unknown extension ".txt" (want one of .jpg .jpeg .png .gif .bmp .tif .tiff .webp .f32)`}, 0, 0},
		{"a folder without -r", []string{in("sub")}, false, []string{"sub!sub: is a directory (use -r)"}, 0, 0},
		{"a folder with -r: sorted, recursive, others skipped", []string{dir}, true,
			[]string{"a.png", "b.JPG", "c.tiff", "sub/deeper/y.f32", "sub/z.webp"}, 2, 0},
		{"an empty folder", []string{in("empty")}, true, []string{"empty!empty: no images or .f32 tensors in it (0 other files)"}, 0, 0},
		{"a glob: sorted matches, others skipped, folders need -r", []string{in("*")}, false, []string{"a.png", "b.JPG", "c.tiff"}, 1, 2},
		{"a glob with -r", []string{in("s*")}, true, []string{"sub/deeper/y.f32", "sub/z.webp"}, 1, 0},
		{"a glob without matches", []string{in("*.gif")}, false, []string{"*.gif!*.gif: no such file, and no file matches it"}, 0, 0},
		{"a bad glob", []string{in("[")}, false, []string{"[![: syntax error in pattern"}, 0, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			l, err := expandInputs(c.args, "", c.recursive, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(dir, l); strings.Join(got, "\n") != strings.Join(c.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(c.want, "\n  "))
			}
			if l.skipped != c.skipped || l.skippedDirs != c.dirs {
				t.Errorf("skipped %d files and %d folders, want %d and %d", l.skipped, l.skippedDirs, c.skipped, c.dirs)
			}
		})
	}
}

// "-" reads paths from stdin where it stands, --files-from after the
// arguments; listed paths are not globs; stdin cannot be read twice.
func TestExpandInputLists(t *testing.T) {
	dir := inputTree(t, "a.png", "b.png", "*.png", "sub/c.jpg")
	list := filepath.Join(dir, "list.txt")
	if err := os.WriteFile(list, []byte(filepath.Join(dir, "sub")+"\r\n\n"+filepath.Join(dir, "*.png")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdin := strings.NewReader(filepath.Join(dir, "b.png") + "\n" + filepath.Join(dir, "a.png"))
	l, err := expandInputs([]string{filepath.Join(dir, "a.png"), "-"}, list, true, stdin)
	if err != nil {
		t.Fatal(err)
	}
	want := "a.png b.png a.png sub/c.jpg *.png"
	if got := strings.Join(describe(dir, l), " "); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	_, err = expandInputs([]string{"-"}, "-", false, strings.NewReader(""))
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "stdin is named twice") {
		t.Errorf("- and --files-from -: %v", err)
	}
	_, err = expandInputs(nil, filepath.Join(dir, "none.txt"), false, nil)
	if err == nil || !strings.Contains(err.Error(), "--files-from: open "+filepath.Join(dir, "none.txt")) {
		t.Errorf("a missing list: %v", err)
	}
}

// Failed inputs join the next batch without a place in it; every other
// batch holds batch readable inputs.
func TestGroups(t *testing.T) {
	bad := errors.New("bad")
	var ins []input
	for _, s := range "a!bc!!de!fg!" {
		if s == '!' {
			ins = append(ins, input{path: "x", err: bad})
		} else {
			ins = append(ins, input{path: string(s)})
		}
	}
	var got []string
	for _, g := range groups(ins, 3) {
		s := ""
		for _, it := range g.items {
			if it.err != nil {
				s += "!"
			} else {
				s += it.in.path
			}
		}
		got = append(got, s)
	}
	if want := "a!bc !!de!f g!"; strings.Join(got, " ") != want {
		t.Errorf("groups %q, want %q", strings.Join(got, " "), want)
	}
}
