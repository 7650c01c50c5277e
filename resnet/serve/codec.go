package serve

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"strconv"
)

// The tensor codecs: the raw (binary) form that gRPC's raw contents and
// REST's binary tensor data extension share, and REST's JSON arrays.

// decodeRaw fills t from the raw form of n elements: little-endian FP32
// values, or BYTES elements each after its 4-byte little-endian length.
func (t *tensor) decodeRaw(raw []byte, n int64) error {
	switch t.datatype {
	case fp32:
		if int64(len(raw)) != 4*n {
			return badRequest("%d bytes of FP32 data for shape %v, want %d", len(raw), t.shape, 4*n)
		}
		t.f32 = make([]float32, n)
		for i := range t.f32 {
			t.f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case bytesType:
		for len(raw) > 0 {
			if len(raw) < 4 || int64(len(t.bytes)) >= n {
				return badRequest("BYTES data: not %d length-prefixed elements", n)
			}
			l := binary.LittleEndian.Uint32(raw)
			if uint64(l) > uint64(len(raw)-4) {
				return badRequest("BYTES data: element %d of %d bytes overruns the data", len(t.bytes), l)
			}
			t.bytes = append(t.bytes, raw[4:4+l])
			raw = raw[4+l:]
		}
	default:
		return badRequest("data type %q: want FP32 or BYTES", t.datatype)
	}
	return nil
}

// encodeRaw returns t's elements in the raw (binary) form.
func (t *tensor) encodeRaw() []byte {
	var out []byte
	if t.datatype == fp32 {
		for _, v := range t.f32 {
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(v))
		}
		return out
	}
	for _, b := range t.bytes {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(b)))
		out = append(out, b...)
	}
	return out
}

// encodeJSON returns t's elements as a flat JSON array: numbers, or
// strings for BYTES.
func (t *tensor) encodeJSON() json.RawMessage {
	out := []byte{'['}
	if t.datatype == fp32 {
		for i, v := range t.f32 {
			if i > 0 {
				out = append(out, ',')
			}
			out = strconv.AppendFloat(out, float64(v), 'g', -1, 32)
		}
	} else {
		for i, b := range t.bytes {
			if i > 0 {
				out = append(out, ',')
			}
			s, _ := json.Marshal(string(b))
			out = append(out, s...)
		}
	}
	return append(out, ']')
}

// parseFloats reads the numbers of a JSON array, flat or nested (already
// valid JSON), refusing anything but numbers and more than limit of them.
func parseFloats(data json.RawMessage, limit int64) ([]float32, error) {
	out := make([]float32, 0, min(limit, int64(len(data)/2+1))) // a number and its comma take 2 bytes at least
	for i := 0; i < len(data); {
		switch c := data[i]; {
		case c == '[' || c == ']' || c == ',' || c == ' ' || c == '\n' || c == '\r' || c == '\t':
			i++
		case c == '-' || c >= '0' && c <= '9':
			j := i
			for j < len(data) && (data[j] == '-' || data[j] == '+' || data[j] == '.' || data[j] == 'e' || data[j] == 'E' || data[j] >= '0' && data[j] <= '9') {
				j++
			}
			v, err := strconv.ParseFloat(string(data[i:j]), 32)
			if err != nil {
				return nil, badRequest("FP32 data: %q is not a float32", data[i:j])
			}
			if int64(len(out)) == limit {
				return nil, badRequest("FP32 data: more values than the shape's %d", limit)
			}
			out = append(out, float32(v))
			i = j
		default:
			return nil, badRequest("FP32 data: want an array of numbers, found %q", c)
		}
	}
	return out, nil
}

// parseBase64 reads a JSON array of base64 strings, flat or nested.
func parseBase64(data json.RawMessage, limit int64) ([][]byte, error) {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, badRequest("BYTES data: %v", err)
	}
	var out [][]byte
	var walk func(v any) error
	walk = func(v any) error {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				if err := walk(e); err != nil {
					return err
				}
			}
		case string:
			if int64(len(out)) == limit {
				return badRequest("BYTES data: more elements than the shape's %d", limit)
			}
			b, err := base64.StdEncoding.DecodeString(v)
			if err != nil {
				return badRequest("BYTES data: element %d is not base64: %v", len(out), err)
			}
			out = append(out, b)
		default:
			return badRequest("BYTES data: want an array of base64 strings, found %T", v)
		}
		return nil
	}
	return out, walk(v)
}
