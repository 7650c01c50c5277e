package keras

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"
)

// classIndexJSON is Keras' imagenet_class_index.json (index → [wnid,
// label]), as Keras downloads it for decode_predictions (MD5
// c2c37ea517e94d9795004a39431a14cb).
//
//go:embed imagenet_class_index.json
var classIndexJSON []byte

var labels, wnids = mustParseIndex(classIndexJSON)

// mustParseIndex parses the embedded class index; it is compiled into the
// binary, so an error is a build mistake.
func mustParseIndex(b []byte) (labels, wnids []string) {
	var m map[string][2]string
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("keras: class index: %v", err))
	}
	labels, wnids = make([]string, len(m)), make([]string, len(m))
	for k, v := range m {
		i, err := strconv.Atoi(k)
		if err != nil || i < 0 || i >= len(m) || labels[i] != "" {
			panic(fmt.Sprintf("keras: class index: bad key %q", k))
		}
		wnids[i], labels[i] = v[0], v[1]
	}
	return labels, wnids
}

// Labels returns Keras' names of the 1000 ImageNet classes ("sports_car"),
// by class index.
func Labels() []string { return append([]string(nil), labels...) }

// WNIDs returns the classes' WordNet ids ("n04285008"), by class index.
func WNIDs() []string { return append([]string(nil), wnids...) }
