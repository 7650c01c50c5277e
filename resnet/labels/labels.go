package labels

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxSize is the largest labels file, in bytes, that Load and Parse read:
// 16 MiB, hundreds of times ImageNet's 1000 names.
const MaxSize = 16 << 20

// Set is the class names of a model, in class-index order. A Set is not
// modified by this package once returned, and is safe for concurrent reads.
type Set struct {
	// Names holds one name per class.
	Names []string
	// WNIDs holds the WordNet ids the file gives with the names, "" for a
	// class it gives none for; it is nil when the file gives none at all.
	WNIDs []string
}

// Load reads the labels file at path (see the package documentation for
// its formats) and checks that it names classes classes.
func Load(path string, classes int) (Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return Set{}, fmt.Errorf("labels: %w", err)
	}
	defer f.Close()
	return Parse(path, f, classes)
}

// Parse reads a labels file from r and checks that it names classes
// classes; name is the file's name, used in error messages and, when it
// ends in .json or .txt, to choose the format. Otherwise content that
// starts with '[' or '{' is read as JSON and anything else as text.
func Parse(name string, r io.Reader, classes int) (Set, error) {
	if classes < 1 {
		return Set{}, fmt.Errorf("labels: %s: the model has %s", name, count(classes, "class"))
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return Set{}, fmt.Errorf("labels: %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return Set{}, fmt.Errorf("labels: %s is larger than %d MiB, the limit for a labels file", name, MaxSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	var es []entry
	if isJSON(name, data) {
		es, err = parseJSON(data)
	} else {
		es, err = parseText(data)
	}
	if err == nil {
		err = checkEntries(es)
	}
	if err != nil {
		return Set{}, fmt.Errorf("labels: %s: %w", name, err)
	}
	if len(es) != classes {
		return Set{}, fmt.Errorf("labels: %s has %s, the model has %s", name, count(len(es), "label"), count(classes, "class"))
	}
	return toSet(es), nil
}

// Default returns placeholder names "class 0" … "class N-1" for a model of
// classes classes whose labels are unknown (none when classes < 1).
func Default(classes int) Set {
	s := Set{Names: make([]string, max(classes, 0))}
	for i := range s.Names {
		s.Names[i] = "class " + strconv.Itoa(i)
	}
	return s
}

// count writes n and a noun, in the plural unless n is 1: "1 label",
// "10 classes".
func count(n int, noun string) string {
	switch {
	case n == 1:
		return "1 " + noun
	case strings.HasSuffix(noun, "s"):
		return fmt.Sprintf("%d %ses", n, noun)
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// entry is one class as a file gives it, with where it stands in the file
// ("line 7", `key "6"`, "item 6") for messages.
type entry struct {
	where, wnid, name string
}

// isJSON reports whether a file called name holding data is JSON.
func isJSON(name string, data []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".json":
		return true
	case ".txt":
		return false
	}
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && (t[0] == '[' || t[0] == '{')
}

// parseText reads one name per line, the final line end optional.
func parseText(data []byte) ([]entry, error) {
	if len(data) == 0 {
		return nil, nil
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	es := make([]entry, len(lines))
	for i, l := range lines {
		where := fmt.Sprintf("line %d", i+1)
		if !utf8.ValidString(l) {
			return nil, fmt.Errorf("%s is not valid UTF-8", where)
		}
		es[i] = entry{where: where, name: strings.TrimSpace(strings.TrimSuffix(l, "\r"))}
	}
	return es, nil
}

// parseJSON reads a JSON list of values or an object from class index to
// value, where a value is a name or a [wnid, name] pair.
func parseJSON(data []byte) ([]entry, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	tok, err := dec.Token()
	if err != nil {
		return nil, jsonError(data, err)
	}
	var es []entry
	switch tok {
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			e, err := decodeValue(dec, data, fmt.Sprintf("item %d", i))
			if err != nil {
				return nil, err
			}
			es = append(es, e)
		}
	case json.Delim('{'):
		if es, err = parseObject(dec, data); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("want a JSON list of names or an object from class index to name")
	}
	if _, err := dec.Token(); err != nil { // the closing ']' or '}'
		return nil, jsonError(data, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more data after the JSON value")
	}
	return es, nil
}

// parseObject reads the members of an object from class index to value,
// after its '{', and returns them in index order. The keys must be exactly
// "0" … "n-1" for n members.
func parseObject(dec *json.Decoder, data []byte) ([]entry, error) {
	byIndex := map[int]entry{}
	var order []int // the indices in file order, for a deterministic error
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, jsonError(data, err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("object key %v is not a string", tok)
		}
		where := "key " + strconv.Quote(key)
		i, err := strconv.Atoi(key)
		if err != nil || i < 0 || strconv.Itoa(i) != key {
			return nil, fmt.Errorf("%s is not a class index (0, 1, 2, …)", where)
		}
		if _, ok := byIndex[i]; ok {
			return nil, fmt.Errorf("%s appears twice", where)
		}
		e, err := decodeValue(dec, data, where)
		if err != nil {
			return nil, err
		}
		byIndex[i] = e
		order = append(order, i)
	}
	es := make([]entry, len(order))
	for _, i := range order {
		if i >= len(es) {
			return nil, fmt.Errorf("%s is out of range: the %d keys must be 0 … %d", byIndex[i].where, len(es), len(es)-1)
		}
		es[i] = byIndex[i]
	}
	return es, nil
}

// decodeValue reads the next JSON value: a name or a [wnid, name] pair.
func decodeValue(dec *json.Decoder, data []byte, where string) (entry, error) {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return entry{}, jsonError(data, err)
	}
	e := entry{where: where}
	var pair []json.RawMessage
	switch {
	case raw[0] == '"' && json.Unmarshal(raw, &e.name) == nil:
	case raw[0] == '[' && json.Unmarshal(raw, &pair) == nil && len(pair) == 2 &&
		pair[0][0] == '"' && pair[1][0] == '"' &&
		json.Unmarshal(pair[0], &e.wnid) == nil && json.Unmarshal(pair[1], &e.name) == nil:
		e.wnid = strings.TrimSpace(e.wnid)
		if e.wnid == "" {
			return entry{}, fmt.Errorf("%s has an empty wnid", where)
		}
	default:
		return entry{}, fmt.Errorf("%s is %s; want a name or a [wnid, name] pair of strings", where, describe(raw))
	}
	e.name = strings.TrimSpace(e.name)
	return e, nil
}

// describe names the kind of a JSON value for messages.
func describe(raw json.RawMessage) string {
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "a list that is not a [wnid, name] pair of strings"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// jsonError turns a decoding error into one that says on which line of
// data it happened.
func jsonError(data []byte, err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		// Offset is where the scanner stood before the white space that
		// precedes the bad character.
		at := min(int(se.Offset), len(data))
		at = len(data) - len(bytes.TrimLeft(data[at:], " \t\r\n"))
		line := 1 + bytes.Count(data[:at], []byte("\n"))
		return fmt.Errorf("line %d: %w", line, err)
	}
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errors.New("the JSON ends early")
	}
	return err
}

// checkEntries reports an empty name, a repeated name, or a repeated wnid.
// A name may repeat when WordNet ids tell the classes apart, as ImageNet's
// two "crane" classes (a bird and a machine) in TorchServe's file.
func checkEntries(es []entry) error {
	names := map[string]int{} // every name: its first entry
	bare := map[string]int{}  // names given without a wnid: their entry
	wnids := map[string]int{} // wnids: their entry
	for i, e := range es {
		if e.name == "" {
			return fmt.Errorf("%s is empty", e.where)
		}
		if e.wnid != "" {
			if j, ok := wnids[e.wnid]; ok {
				return fmt.Errorf("%s repeats the wnid of %s: %q", e.where, es[j].where, e.wnid)
			}
			if j, ok := bare[e.name]; ok {
				return fmt.Errorf("%s repeats %s: %q", e.where, es[j].where, e.name)
			}
			wnids[e.wnid] = i
		} else {
			if j, ok := names[e.name]; ok {
				return fmt.Errorf("%s repeats %s: %q", e.where, es[j].where, e.name)
			}
			bare[e.name] = i
		}
		if _, ok := names[e.name]; !ok {
			names[e.name] = i
		}
	}
	return nil
}

// toSet collects checked entries.
func toSet(es []entry) Set {
	s := Set{Names: make([]string, len(es))}
	for i, e := range es {
		s.Names[i] = e.name
		if e.wnid != "" && s.WNIDs == nil {
			s.WNIDs = make([]string, len(es))
		}
	}
	if s.WNIDs != nil {
		for i, e := range es {
			s.WNIDs[i] = e.wnid
		}
	}
	return s
}
