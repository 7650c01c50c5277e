package weights

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Tensor is one state_dict entry. Floating-point tensors hold their values
// in Data as float32 in row-major order; integer and boolean tensors (such as
// num_batches_tracked) hold them in Int instead.
type Tensor struct {
	// Shape is the size of each dimension; an empty Shape is a scalar.
	Shape []int
	// Data holds the values of a floating-point tensor, row-major.
	Data []float32
	// Int holds the values of an integer or boolean tensor, row-major.
	Int []int64
	// DType is the element type as stored in the source: "float32",
	// "float16", "bfloat16", "float64", "int64", "int32", "int16", "int8",
	// "uint8" or "bool".
	DType string
}

// Numel returns the number of elements of t: the product of its shape, 1 for
// a scalar.
func (t *Tensor) Numel() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// IsInt reports whether t is an integer or boolean tensor, whose values are
// in Int: by its DType, or if DType is empty, by whether Int is set.
func (t *Tensor) IsInt() bool {
	if t.DType == "" {
		return t.Int != nil
	}
	return isIntDType(t.DType)
}

// Spec names one entry that an architecture expects in its state_dict.
type Spec struct {
	// Name is the torchvision parameter name, such as "layer1.0.conv1.weight".
	Name string
	// Shape is the expected shape; empty for a scalar.
	Shape []int
	// Int marks an integer entry (num_batches_tracked).
	Int bool
}

// Digest returns the sha256, in hex, of the text made of one line
// "NAME:D0,D1,...\n" per spec in order (a scalar's line is "NAME:\n"): the
// keys_sha256 that testdata/models/reference.json holds for each
// architecture's state_dict entries.
func Digest(specs []Spec) string {
	h := sha256.New()
	for _, s := range specs {
		dims := make([]string, len(s.Shape))
		for i, d := range s.Shape {
			dims[i] = strconv.Itoa(d)
		}
		fmt.Fprintf(h, "%s:%s\n", s.Name, strings.Join(dims, ","))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// StateDict maps torchvision parameter names to tensors.
type StateDict map[string]*Tensor

// Check verifies sd against specs. It returns an error naming the first
// missing entry, entry of the wrong shape or kind (integer or floating
// point), entry whose value count does not match its shape, or entry that no
// spec names (in that order of search; unexpected entries are reported in
// sorted order).
//
// Missing integer entries (num_batches_tracked) are accepted: PyTorch fills
// them in when it loads a state_dict saved before they existed, and the
// ImageNet ResNet files that torchvision publishes predate them. Inference
// never reads them.
func (sd StateDict) Check(specs []Spec) error {
	want := make(map[string]bool, len(specs))
	for _, s := range specs {
		want[s.Name] = true
		t, ok := sd[s.Name]
		if !ok || t == nil {
			if s.Int {
				continue
			}
			return fmt.Errorf("weights: missing entry %s", s.Name)
		}
		if !slices.Equal(t.Shape, s.Shape) {
			return fmt.Errorf("weights: %s has shape %v, want %v", s.Name, t.Shape, s.Shape)
		}
		if t.IsInt() != s.Int {
			return fmt.Errorf("weights: %s has dtype %s, want %s", s.Name, t.DType, kindString(s.Int))
		}
		n, got := t.Numel(), len(t.Data)
		if s.Int {
			got = len(t.Int)
		}
		if got != n {
			return fmt.Errorf("weights: %s has %d values for shape %v", s.Name, got, t.Shape)
		}
	}
	var extra []string
	for name := range sd {
		if !want[name] {
			extra = append(extra, name)
		}
	}
	if len(extra) > 0 {
		sort.Strings(extra)
		return fmt.Errorf("weights: unexpected entry %s", extra[0])
	}
	return nil
}

func kindString(isInt bool) string {
	if isInt {
		return "an integer type"
	}
	return "a floating-point type"
}

// NonFinite returns the index of v's first NaN or infinity, or -1.
func NonFinite(v []float32) int {
	for i, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return i
		}
	}
	return -1
}
