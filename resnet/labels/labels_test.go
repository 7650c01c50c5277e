package labels

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/resnet-gpu/resnet-gpu/resnet/imagenet"
)

func TestParse(t *testing.T) {
	tests := []struct {
		file, data string
		classes    int
		names      []string
		wnids      []string // nil: none
	}{
		{"l.txt", "cat\ndog\n", 2, []string{"cat", "dog"}, nil},
		{"l.txt", "cat\ndog", 2, []string{"cat", "dog"}, nil},
		{"l.txt", "cat\r\ndog\r\n", 2, []string{"cat", "dog"}, nil},
		{"l.txt", "\ufeffcat\ndog\n", 2, []string{"cat", "dog"}, nil},
		{"l.txt", "  sports car \t\ngreat white shark\n", 2, []string{"sports car", "great white shark"}, nil},
		{"l.txt", "[a]\n{b}\n", 2, []string{"[a]", "{b}"}, nil}, // .txt is text whatever it starts with
		{"labels", "cat\n", 1, []string{"cat"}, nil},            // no extension, not JSON: text
		{"l.txt", "only\n", 1, []string{"only"}, nil},
		{"l.json", `["cat", "dog"]`, 2, []string{"cat", "dog"}, nil},
		{"l.json", "\ufeff[\"cat\"]\n", 1, []string{"cat"}, nil},
		{"labels", ` ["cat", "dog"]`, 2, []string{"cat", "dog"}, nil}, // no extension, JSON by content
		{"l.json", `[["n1", "cat"], ["n2", "dog"]]`, 2, []string{"cat", "dog"}, []string{"n1", "n2"}},
		{"l.json", `{"1": "dog", "0": "cat"}`, 2, []string{"cat", "dog"}, nil},
		{"index_to_name.json", `{"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"]}`, 2,
			[]string{"tench", "goldfish"}, []string{"n01440764", "n01443537"}},
		{"l.json", `{"0": ["n1", "cat"], "1": "dog"}`, 2, []string{"cat", "dog"}, []string{"n1", ""}},
		// ImageNet has two cranes, a bird and a machine: their wnids tell them apart.
		{"l.json", `{"0": ["n02012849", "crane"], "1": ["n03126707", "crane"]}`, 2,
			[]string{"crane", "crane"}, []string{"n02012849", "n03126707"}},
	}
	for _, tt := range tests {
		s, err := Parse(tt.file, strings.NewReader(tt.data), tt.classes)
		if err != nil {
			t.Errorf("Parse(%s, %q): %v", tt.file, tt.data, err)
			continue
		}
		if !slices.Equal(s.Names, tt.names) || !slices.Equal(s.WNIDs, tt.wnids) || (s.WNIDs == nil) != (tt.wnids == nil) {
			t.Errorf("Parse(%s, %q) = %q, %q; want %q, %q", tt.file, tt.data, s.Names, s.WNIDs, tt.names, tt.wnids)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		file, data string
		classes    int
		want       string // the message after "labels: "
	}{
		{"labels.txt", "a\nb\nc\nd\ne\nf\ng\nh\ni\n", 10, "labels.txt has 9 labels, the model has 10 classes"},
		{"labels.txt", "a\nb\n", 1, "labels.txt has 2 labels, the model has 1 class"},
		{"labels.txt", "a\n", 2, "labels.txt has 1 label, the model has 2 classes"},
		{"labels.txt", "", 2, "labels.txt has 0 labels, the model has 2 classes"},
		{"labels.txt", "\ufeff", 2, "labels.txt has 0 labels, the model has 2 classes"},
		{"labels.txt", "a\n", 0, "labels.txt: the model has 0 classes"},
		{"labels.txt", "a\nb\ncat\nd\ne\nf\ncat\n", 7, `labels.txt: line 7 repeats line 3: "cat"`},
		{"labels.txt", "cat\r\ncat \r\n", 2, `labels.txt: line 2 repeats line 1: "cat"`},
		{"labels.txt", "a\n\nb\n", 3, "labels.txt: line 2 is empty"},
		{"labels.txt", "a\nb\n\n", 3, "labels.txt: line 3 is empty"},
		{"labels.txt", "a\n \t\r\nb", 3, "labels.txt: line 2 is empty"},
		{"labels.txt", "\n", 1, "labels.txt: line 1 is empty"},
		{"labels.txt", "a\nb\xff\n", 2, "labels.txt: line 2 is not valid UTF-8"},
		{"l.json", `["a", "b", "a"]`, 3, `l.json: item 2 repeats item 0: "a"`},
		{"l.json", `["a", ""]`, 2, "l.json: item 1 is empty"},
		{"l.json", `["a", 3]`, 2, "l.json: item 1 is a number; want a name or a [wnid, name] pair of strings"},
		{"l.json", `["a", null]`, 2, "l.json: item 1 is null"},
		{"l.json", `["a", ["n1", "b", "c"]]`, 2, "l.json: item 1 is a list that is not a [wnid, name] pair"},
		{"l.json", `["a", ["n1", 2]]`, 2, "l.json: item 1 is a list that is not a [wnid, name] pair"},
		{"l.json", `["a", [" ", "b"]]`, 2, "l.json: item 1 has an empty wnid"},
		{"l.json", `["a", "b"]`, 3, "l.json has 2 labels, the model has 3 classes"},
		{"l.json", `{"0": "a", "01": "b"}`, 2, `l.json: key "01" is not a class index`},
		{"l.json", `{"0": "a", "one": "b"}`, 2, `l.json: key "one" is not a class index`},
		{"l.json", `{"0": "a", "-1": "b"}`, 2, `l.json: key "-1" is not a class index`},
		{"l.json", `{"0": "a", " 1": "b"}`, 2, `l.json: key " 1" is not a class index`},
		{"l.json", `{"0": "a", "2": "b"}`, 2, `l.json: key "2" is out of range: the 2 keys must be 0 … 1`},
		{"l.json", `{"0": "a", "0": "b"}`, 2, `l.json: key "0" appears twice`},
		{"l.json", `{"0": "a", "1": true}`, 2, `l.json: key "1" is a boolean`},
		{"l.json", `{"0": "a", "1": {"name": "b"}}`, 2, `l.json: key "1" is an object`},
		{"l.json", `{"0": "a", "1": ""}`, 2, `l.json: key "1" is empty`},
		{"l.json", `{"0": "cat", "1": "cat"}`, 2, `l.json: key "1" repeats key "0": "cat"`},
		{"l.json", `{"0": ["n1", "cat"], "1": ["n1", "dog"]}`, 2, `l.json: key "1" repeats the wnid of key "0": "n1"`},
		{"l.json", `{"0": "cat", "1": ["n1", "cat"]}`, 2, `l.json: key "1" repeats key "0": "cat"`},
		{"l.json", `{"0": ["n1", "cat"], "1": "cat"}`, 2, `l.json: key "1" repeats key "0": "cat"`},
		{"l.json", `"cat"`, 1, "l.json: want a JSON list of names or an object from class index to name"},
		{"l.json", `7`, 1, "l.json: want a JSON list"},
		{"l.json", "[\"a\",\n\"b\",\n x]", 3, "l.json: line 3: invalid character 'x'"},
		{"l.json", `["a", "b"`, 2, "l.json: the JSON ends early"},
		{"l.json", `{"0": "a"`, 1, "l.json: the JSON ends early"},
		{"l.json", `["a"] ["b"]`, 1, "l.json: more data after the JSON value"},
		{"l.json", ``, 1, "l.json: the JSON ends early"},
		{"l.json", "cat\n", 1, "l.json: line 1: invalid character 'c'"}, // .json must be JSON
		{"labels", "[a]\n", 1, "labels: line 1: invalid character 'a'"}, // no extension, '[': JSON
	}
	for _, tt := range tests {
		s, err := Parse(tt.file, strings.NewReader(tt.data), tt.classes)
		if err == nil {
			t.Errorf("Parse(%s, %q, %d) = %q, want an error", tt.file, tt.data, tt.classes, s.Names)
			continue
		}
		if !strings.HasPrefix(err.Error(), "labels: "+tt.want) {
			t.Errorf("Parse(%s, %q, %d): %q, want %q", tt.file, tt.data, tt.classes, err, "labels: "+tt.want)
		}
	}
}

// endless is an io.Reader of endless newline-separated names that are all
// distinct, to show that Parse stops reading at MaxSize.
type endless struct{ n, read int }

func (e *endless) Read(p []byte) (int, error) {
	line := fmt.Sprintf("class %08d\n", e.n)
	e.n++
	n := copy(p, line) // a short read when p is small; the next line follows
	e.read += n
	return n, nil
}

func TestParseTooLarge(t *testing.T) {
	r := &endless{}
	_, err := Parse("huge.txt", r, 1000)
	if err == nil || err.Error() != "labels: huge.txt is larger than 16 MiB, the limit for a labels file" {
		t.Fatalf("Parse(endless): %v", err)
	}
	if r.read > MaxSize+1 {
		t.Errorf("Parse read %d bytes, more than MaxSize+1", r.read)
	}
	// A file of exactly MaxSize bytes is read.
	line := strings.Repeat("x", 1023) + "\n"
	data := strings.Repeat(line, MaxSize/len(line))
	if _, err := Parse("max.txt", strings.NewReader(data), 1); err == nil || !strings.Contains(err.Error(), "line 2 repeats line 1") {
		t.Errorf("Parse(MaxSize bytes): %v, want the duplicate reported", err)
	}
}

type failing struct{}

func (failing) Read([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestParseReadError(t *testing.T) {
	_, err := Parse("pipe.txt", failing{}, 1)
	if err == nil || !strings.Contains(err.Error(), "pipe.txt") || !strings.Contains(err.Error(), io.ErrClosedPipe.Error()) {
		t.Errorf("Parse(failing reader): %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "labels.txt")
	if err := os.WriteFile(path, []byte("cat\ndog\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path, 2)
	if err != nil || !slices.Equal(s.Names, []string{"cat", "dog"}) {
		t.Errorf("Load(%s) = %q, %v", path, s.Names, err)
	}
	if _, err := Load(path, 3); err == nil || err.Error() != "labels: "+path+" has 2 labels, the model has 3 classes" {
		t.Errorf("Load(%s, 3): %v", path, err)
	}
	missing := filepath.Join(dir, "missing.txt")
	if _, err := Load(missing, 2); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load(%s): %v, want an error naming it", missing, err)
	}
}

// The repository's ImageNet names load as the 1000 classes imagenet.Label
// gives, from text and from a TorchServe index_to_name.json built from them
// (with ImageNet's two "crane" classes, which torchvision tells apart).
func TestImageNet(t *testing.T) {
	path := "../../testdata/imagenet/categories.txt"
	s, err := Load(path, imagenet.NumClasses)
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range s.Names {
		if name != imagenet.Label(i) {
			t.Fatalf("%s: class %d is %q, imagenet.Label says %q", path, i, name, imagenet.Label(i))
		}
	}
	index := map[string][2]string{}
	for i := range imagenet.NumClasses {
		index[fmt.Sprint(i)] = [2]string{imagenet.WNID(i), imagenet.Label(i)}
	}
	index["517"] = [2]string{imagenet.WNID(517), "crane"}
	data, err := json.Marshal(index)
	if err != nil {
		t.Fatal(err)
	}
	s, err = Parse("index_to_name.json", strings.NewReader(string(data)), imagenet.NumClasses)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Names) != 1000 || len(s.WNIDs) != 1000 || s.Names[517] != "crane" || s.WNIDs[817] != "n04285008" || s.Names[817] != "sports car" {
		t.Errorf("index_to_name.json: %d names, %d wnids, 517 %q, 817 %q %q", len(s.Names), len(s.WNIDs), s.Names[517], s.WNIDs[817], s.Names[817])
	}
}

func TestDefault(t *testing.T) {
	s := Default(3)
	if !slices.Equal(s.Names, []string{"class 0", "class 1", "class 2"}) || s.WNIDs != nil {
		t.Errorf("Default(3) = %+v", s)
	}
	for _, n := range []int{0, -1} {
		if s := Default(n); len(s.Names) != 0 {
			t.Errorf("Default(%d) = %+v, want no names", n, s)
		}
	}
}
