package onnx

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/resnet-gpu/resnet-gpu/graph/onnx/onnxpb"
)

// tensor is a constant: an initializer, a Constant node's value or a
// folded result. A floating-point tensor holds F, an integer one I. In an
// integer tensor computed from shapes, Sym[k] marks element k as I[k]
// times the batch size, which the graph leaves open (nil: none).
type tensor struct {
	Dims  []int
	Float bool
	F     []float32
	I     []int64
	Sym   []bool
}

// numel is the number of elements.
func (t *tensor) numel() int {
	if t.Float {
		return len(t.F)
	}
	return len(t.I)
}

// symbolic reports whether any element depends on the batch size.
func (t *tensor) symbolic() bool {
	for _, s := range t.Sym {
		if s {
			return true
		}
	}
	return false
}

// ints returns an integer tensor's values, which must not depend on the
// batch size.
func (t *tensor) ints(what string) ([]int64, error) {
	if t.Float {
		return nil, fmt.Errorf("%s is a float tensor, want integers", what)
	}
	if t.symbolic() {
		return nil, fmt.Errorf("%s depends on the batch size", what)
	}
	return t.I, nil
}

// scalar returns the value of a one-element tensor as float64.
func (t *tensor) scalar(what string) (float64, error) {
	if t.numel() != 1 || t.symbolic() {
		return 0, fmt.Errorf("%s has shape %v, want one number", what, t.Dims)
	}
	if t.Float {
		return float64(t.F[0]), nil
	}
	return float64(t.I[0]), nil
}

// numelOf returns the product of dims, or an error if a dimension is
// negative or the product exceeds limit.
func numelOf(dims []int64, limit int) (int, error) {
	n := 1
	for _, d := range dims {
		if d < 0 || d > int64(limit) {
			return 0, fmt.Errorf("dimensions %v out of range", dims)
		}
		if d != 0 && n > limit/int(d) {
			return 0, fmt.Errorf("dimensions %v: more than %d elements", dims, limit)
		}
		n *= int(d)
	}
	return n, nil
}

// elemSize is the bytes per element of the data types the importer
// reads, 0 for others.
func elemSize(dt int32) int {
	switch onnxpb.TensorProto_DataType(dt) {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32:
		return 4
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_INT64:
		return 8
	}
	return 0
}

// decode converts a TensorProto of float, double, int32 or int64 values
// (double rounded to float32) with at most limit elements. Its data must
// be exactly the size its dimensions say; nothing is allocated before
// that is checked.
func decode(t *onnxpb.TensorProto, ext *external, limit int) (*tensor, error) {
	n, err := numelOf(t.Dims, limit)
	if err != nil {
		return nil, err
	}
	size := elemSize(t.DataType)
	if size == 0 {
		return nil, fmt.Errorf("data type %s is not supported (want FLOAT, DOUBLE, INT32 or INT64)", onnxpb.TensorProto_DataType(t.DataType))
	}
	if t.Segment != nil {
		return nil, fmt.Errorf("segmented tensors are not supported")
	}
	dt := onnxpb.TensorProto_DataType(t.DataType)
	typed := len(t.FloatData) + len(t.DoubleData) + len(t.Int32Data) + len(t.Int64Data)
	var raw []byte
	switch {
	case t.DataLocation == onnxpb.TensorProto_EXTERNAL:
		if len(t.RawData) > 0 || typed > 0 {
			return nil, fmt.Errorf("external data and inline data both given")
		}
		if raw, err = ext.read(t.ExternalData, int64(n)*int64(size)); err != nil {
			return nil, err
		}
	case t.DataLocation != onnxpb.TensorProto_DEFAULT:
		return nil, fmt.Errorf("data location %d is not supported", t.DataLocation)
	case len(t.RawData) > 0 || typed == 0:
		if typed > 0 {
			return nil, fmt.Errorf("raw_data and typed data both given")
		}
		if len(t.RawData) != n*size {
			return nil, fmt.Errorf("dimensions %v of %s need %d bytes, raw_data has %d", t.Dims, dt, n*size, len(t.RawData))
		}
		raw = t.RawData
	}
	out := &tensor{Dims: make([]int, len(t.Dims)), Float: dt == onnxpb.TensorProto_FLOAT || dt == onnxpb.TensorProto_DOUBLE}
	for i, d := range t.Dims {
		out.Dims[i] = int(d)
	}
	if raw != nil {
		fromRaw(out, dt, raw, n)
		return out, nil
	}
	have := map[onnxpb.TensorProto_DataType]int{onnxpb.TensorProto_FLOAT: len(t.FloatData), onnxpb.TensorProto_DOUBLE: len(t.DoubleData),
		onnxpb.TensorProto_INT32: len(t.Int32Data), onnxpb.TensorProto_INT64: len(t.Int64Data)}[dt]
	if have != n || typed != n {
		return nil, fmt.Errorf("dimensions %v need %d values, the tensor holds %d of type %s (and %d others)", t.Dims, n, have, dt, typed-have)
	}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		out.F = append([]float32(nil), t.FloatData...)
	case onnxpb.TensorProto_DOUBLE:
		out.F = make([]float32, n)
		for i, v := range t.DoubleData {
			out.F[i] = float32(v)
		}
	case onnxpb.TensorProto_INT32:
		out.I = make([]int64, n)
		for i, v := range t.Int32Data {
			out.I[i] = int64(v)
		}
	default:
		out.I = append([]int64(nil), t.Int64Data...)
	}
	return out, nil
}

// fromRaw fills out with n little-endian values of type dt from b.
func fromRaw(out *tensor, dt onnxpb.TensorProto_DataType, b []byte, n int) {
	le := binary.LittleEndian
	if out.Float {
		out.F = make([]float32, n)
	} else {
		out.I = make([]int64, n)
	}
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		for i := range out.F {
			out.F[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case onnxpb.TensorProto_DOUBLE:
		for i := range out.F {
			out.F[i] = float32(math.Float64frombits(le.Uint64(b[8*i:])))
		}
	case onnxpb.TensorProto_INT32:
		for i := range out.I {
			out.I[i] = int64(int32(le.Uint32(b[4*i:])))
		}
	default:
		for i := range out.I {
			out.I[i] = int64(le.Uint64(b[8*i:]))
		}
	}
}

// external reads tensors' external data from files in one folder.
type external struct {
	dir   string
	files map[string]*os.File
}

func newExternal(dir string) *external { return &external{dir: dir, files: map[string]*os.File{}} }

// close closes the files read.
func (e *external) close() {
	for _, f := range e.files {
		f.Close()
	}
}

// read returns the need bytes an external_data list points to: location
// (a file name relative to the model's folder, which it may not leave),
// offset (default 0) and length (default need; else it must equal need),
// checked against the file's size before reading.
func (e *external) read(entries []*onnxpb.StringStringEntryProto, need int64) ([]byte, error) {
	var loc string
	off, length := int64(0), int64(-1)
	for _, kv := range entries {
		var err error
		switch kv.Key {
		case "location":
			loc = kv.Value
		case "offset":
			off, err = strconv.ParseInt(kv.Value, 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.Value, 10, 64)
		case "checksum":
		default:
			err = fmt.Errorf("unknown key")
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s=%q: %w", kv.Key, kv.Value, err)
		}
	}
	switch {
	case e.dir == "":
		return nil, fmt.Errorf("external data %q: no folder to read it from", loc)
	case loc == "" || !filepath.IsLocal(loc):
		return nil, fmt.Errorf("external data location %q: want a file name inside the model's folder", loc)
	case off < 0 || length >= 0 && length != need:
		return nil, fmt.Errorf("external data %q: offset %d, length %d; the tensor needs %d bytes", loc, off, length, need)
	}
	f, ok := e.files[loc]
	if !ok {
		var err error
		if f, err = os.Open(filepath.Join(e.dir, loc)); err != nil {
			return nil, fmt.Errorf("external data: %w", err)
		}
		e.files[loc] = f
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if !fi.Mode().IsRegular() || off > fi.Size() || need > fi.Size()-off {
		return nil, fmt.Errorf("external data %q: %d bytes at offset %d, the file has %d", loc, need, off, fi.Size())
	}
	b := make([]byte, need)
	if n, err := f.ReadAt(b, off); n != len(b) {
		return nil, fmt.Errorf("external data %q: %w", loc, err)
	}
	return b, nil
}
