package weights

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path"
	"slices"
	"strings"

	"github.com/nlpodyssey/gopickle/types"
)

const (
	// maxStorageBytes bounds one storage, far above any real model, so that
	// byte counts cannot overflow.
	maxStorageBytes = 1 << 50
	// legacyMagic is the magic number that starts a legacy torch.save file.
	legacyMagic = "1950a86a20f9469cfc6c"
	// legacyProtocol is the only legacy format version.
	legacyProtocol = 1001
	// slack is the memory allowed beyond the per-file-byte limits.
	slack = 64 << 20
)

// errTruncated reports a file that ends inside its data.
var errTruncated = errors.New("file truncated")

// errInternal marks the error of a panic that the loader recovered from: a
// bug, which the tests fail on.
var errInternal = errors.New("internal error")

// zipMagic starts a zip archive (its first local file header).
const zipMagic = "PK\x03\x04"

// legacyHead is how many bytes of a file may hold the pickle of the legacy
// format's magic number.
const legacyHead = 64

// LoadFile reads a state_dict saved by torch.save: the zip format of
// PyTorch >= 1.6 or the legacy pickle format, holding a dict or OrderedDict
// of tensors, or a checkpoint dict that holds one under the key
// "state_dict", "model" or "model_state_dict" beside other entries (epoch,
// optimizer state, ...), which are ignored. Floating-point tensors of any
// supported dtype load as float32 in row-major order, whatever their strides
// and storage offset; integer and boolean tensors load into Tensor.Int.
//
// Entries get torchvision's names: a "module." (DataParallel,
// DistributedDataParallel) or "model." prefix that every entry has is
// dropped, and old DenseNet names such as
// features.denseblock1.denselayer1.norm.1.weight become
// features.denseblock1.denselayer1.norm1.weight, as torchvision renames them.
//
// The pickle may name only the globals that torch.load(weights_only=True)
// allows, anywhere in the file. A pickled nn.Module (torch.save(model)), a
// checkpoint with several candidate state_dicts or none, and a file that is
// truncated, corrupt, hostile or of an unsupported kind (TorchScript) give
// an error, never a panic. The pickles may take at most 64 MB and push at
// most 2^20 values; loading needs memory of the order of the bytes of the
// file's storages plus at most a few hundred MB for the pickles, and reads
// no more of a file that is not a torch.save file than its first bytes.
func LoadFile(path string) (StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	return loadFrom(path, f, fi.Size())
}

// loadFrom loads the file of the given size read through r; name is the
// file's name for error messages.
func loadFrom(name string, r io.ReaderAt, size int64) (sd StateDict, err error) {
	defer func() {
		if p := recover(); p != nil {
			sd, err = nil, fmt.Errorf("weights: %s: corrupt or unsupported .pth: %w: %v", name, errInternal, p)
		}
	}()
	var magic [len(zipMagic)]byte
	if n, _ := r.ReadAt(magic[:], 0); n == len(magic) && string(magic[:]) == zipMagic {
		sd, err = loadZip(r, size)
	} else {
		sd, err = loadLegacy(r, size)
	}
	var other *notStateDict
	var refused *refusedGlobal
	if errors.As(err, &other) {
		return nil, fmt.Errorf("weights: %s %w", name, err)
	}
	if errors.As(err, &refused) {
		return nil, fmt.Errorf("weights: %s: %w", name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("weights: %s: corrupt or unsupported .pth: %w", name, err)
	}
	return sd, nil
}

// zipFile is an open torch zip archive.
type zipFile struct {
	size    int64                // of the file
	records map[string]*zip.File // by name
	prefix  string               // the archive's folder, with a trailing slash
	budget  int64                // bytes that records may still decompress to
}

// loadZip reads the zip format: prefix/data.pkl is the pickle, and each
// storage is the record prefix/data/KEY.
func loadZip(f io.ReaderAt, size int64) (StateDict, error) {
	zr, err := zip.NewReader(f, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, err
	}
	z := &zipFile{size: size, records: make(map[string]*zip.File, len(zr.File)), budget: 4*size + slack}
	var pickles []string
	for _, r := range zr.File {
		if z.records[r.Name] != nil {
			return nil, fmt.Errorf("zip record %q appears twice", r.Name)
		}
		z.records[r.Name] = r
		if dir, base := path.Split(r.Name); base == "data.pkl" && strings.Count(dir, "/") <= 1 {
			pickles = append(pickles, dir)
		}
	}
	if len(pickles) != 1 {
		return nil, fmt.Errorf("zip archive has %d data.pkl records, want 1", len(pickles))
	}
	z.prefix = pickles[0]
	if z.records[z.prefix+"constants.pkl"] != nil {
		return nil, errors.New("TorchScript archive (torch.jit.save); save model.state_dict() with torch.save instead")
	}
	bigEndian := false
	if r := z.records[z.prefix+"byteorder"]; r != nil {
		if r.UncompressedSize64 > 16 {
			return nil, fmt.Errorf("byteorder record of %d bytes", r.UncompressedSize64)
		}
		b, err := z.read(r.Name, r.UncompressedSize64)
		if err != nil {
			return nil, err
		}
		switch string(b) {
		case "little":
		case "big":
			bigEndian = true
		default:
			return nil, fmt.Errorf("byteorder %q", b)
		}
	}
	pkl := z.records[z.prefix+"data.pkl"]
	if pkl.UncompressedSize64 > maxPickleBytes {
		return nil, fmt.Errorf("data.pkl of %d bytes, more than the %d MB that a state_dict's pickle may take",
			pkl.UncompressedSize64, maxPickleBytes>>20)
	}
	b, err := z.read(pkl.Name, pkl.UncompressedSize64)
	if err != nil {
		return nil, err
	}
	p := newUnpickler(false)
	obj, _, err := p.load(b)
	if err != nil {
		return nil, err
	}
	b = nil // the pickle's bytes are no longer needed
	entries, err := p.stateDict(obj)
	if err != nil {
		return nil, err
	}
	return materialize(entries, size, func(s *storage) error {
		if s.numel == 0 {
			s.data = []byte{}
			return nil
		}
		s.data, err = z.read(z.prefix+"data/"+s.key, uint64(s.numel*s.dt.size))
		if err == nil && bigEndian {
			swapBytes(s.data, s.dt.size)
		}
		return err
	})
}

// read returns the first want bytes of a record, after checking that the
// record is plausible for the file's size and reading it to its end, which
// verifies its CRC-32.
func (z *zipFile) read(name string, want uint64) ([]byte, error) {
	r := z.records[name]
	if r == nil {
		return nil, fmt.Errorf("zip record %s missing", name)
	}
	if r.UncompressedSize64 < want {
		return nil, fmt.Errorf("zip record %s holds %d bytes, want %d", name, r.UncompressedSize64, want)
	}
	off, err := r.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", name, err)
	}
	if off < 0 || off > z.size || r.CompressedSize64 > uint64(z.size-off) {
		return nil, fmt.Errorf("zip record %s: %w", name, errTruncated)
	}
	switch r.Method {
	case zip.Store:
		if r.CompressedSize64 != r.UncompressedSize64 {
			return nil, fmt.Errorf("stored zip record %s has sizes %d and %d", name, r.CompressedSize64, r.UncompressedSize64)
		}
	case zip.Deflate:
	default:
		return nil, fmt.Errorf("zip record %s uses compression method %d", name, r.Method)
	}
	if r.UncompressedSize64 > uint64(z.budget) {
		return nil, fmt.Errorf("zip records expand beyond %d bytes", 4*z.size+slack)
	}
	z.budget -= int64(r.UncompressedSize64)
	rc, err := r.Open()
	if err != nil {
		return nil, fmt.Errorf("zip record %s: %w", name, err)
	}
	defer rc.Close()
	b := make([]byte, want)
	if _, err := io.ReadFull(rc, b); err != nil {
		return nil, fmt.Errorf("zip record %s: %w", name, err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("zip record %s: %w", name, err)
	}
	return b, nil
}

// loadLegacy reads the legacy format: pickles of the magic number, the
// format version, system information, the object and the list of storage
// keys, followed by each storage as an int64 element count and its bytes.
// The magic number is checked before more than legacyHead bytes are read,
// the pickles are read as far as they go, and each storage's bytes only
// when its tensors are.
func loadLegacy(f io.ReaderAt, size int64) (StateDict, error) {
	r := &legacyReader{f: f, size: size, p: newUnpickler(true)}
	if err := r.grow(legacyHead); err != nil {
		return nil, err
	}
	v, err := r.next(legacyHead)
	if m, ok := v.(*big.Int); err != nil || !ok || m.Text(16) != legacyMagic {
		return nil, fmt.Errorf("neither a zip archive nor a legacy torch.save file: it starts with % x", r.buf[:min(len(r.buf), 16)])
	}
	if v, err = r.next(maxPickleBytes); err != nil {
		return nil, err
	} else if v != legacyProtocol {
		return nil, fmt.Errorf("legacy format version %s, want %d", describe(v), legacyProtocol)
	}
	if _, err = r.next(maxPickleBytes); err != nil { // system information
		return nil, err
	}
	obj, err := r.next(maxPickleBytes)
	if err != nil {
		return nil, err
	}
	entries, err := r.p.stateDict(obj)
	if err != nil {
		return nil, err
	}
	v, err = r.next(maxPickleBytes)
	if err != nil {
		return nil, err
	}
	keys, ok := v.(*types.List)
	if !ok {
		return nil, fmt.Errorf("storage key list is %s", describe(v))
	}
	at := int64(r.pos)
	r.buf = nil
	for _, k := range *keys {
		key, _ := k.(string)
		s := r.p.storages[key]
		if s == nil || s.at != 0 {
			return nil, fmt.Errorf("storage key %s unknown or repeated", describe(k))
		}
		var count [8]byte
		if size-at < 8 {
			return nil, errTruncated
		}
		if err := readAt(f, count[:], at); err != nil {
			return nil, err
		}
		if n := binary.LittleEndian.Uint64(count[:]); n != uint64(s.numel) {
			return nil, fmt.Errorf("storage %s holds %d elements, want %d", key, n, s.numel)
		}
		s.at = at + 8
		at = s.at + int64(s.numel*s.dt.size)
		if at > size {
			return nil, errTruncated
		}
	}
	return materialize(entries, size, func(s *storage) error {
		if s.at == 0 {
			return nil // not in the list: materialize reports it missing
		}
		s.data = make([]byte, s.numel*s.dt.size)
		return readAt(f, s.data, s.at)
	})
}

// legacyReader reads the pickles at the start of a legacy file.
type legacyReader struct {
	f    io.ReaderAt
	size int64
	p    *unpickler
	buf  []byte // the file's first len(buf) bytes
	pos  int    // where the next pickle starts in buf
}

// next unpickles the next pickle, reading more of the file while the
// pickle runs past the bytes read so far, up to limit bytes from the start
// of the file.
func (r *legacyReader) next(limit int) (any, error) {
	for {
		v, n, err := r.p.load(r.buf[r.pos:])
		if !errors.Is(err, errPickleEnd) || int64(len(r.buf)) == r.size {
			r.pos += n
			return v, err
		}
		if len(r.buf) >= limit {
			return nil, fmt.Errorf("pickles of more than %d bytes before the storages", limit)
		}
		if err := r.grow(min(2*len(r.buf), limit)); err != nil {
			return nil, err
		}
	}
}

// grow reads the file's first n bytes into buf, or the whole file if it is
// shorter.
func (r *legacyReader) grow(n int) error {
	n = int(min(int64(n), r.size))
	old := len(r.buf)
	r.buf = slices.Grow(r.buf, n-old)[:n]
	return readAt(r.f, r.buf[old:], int64(old))
}

// readAt fills b with the bytes of f from offset off on.
func readAt(f io.ReaderAt, b []byte, off int64) error {
	if n, err := f.ReadAt(b, off); n < len(b) {
		return fmt.Errorf("reading %d bytes at offset %d: %w", len(b), off, err)
	}
	return nil
}

// materialize reads the values of the entries, one storage at a time: read
// fills in a storage's bytes, which are dropped once its tensors are read.
// The tensors may take at most 8 bytes per file byte (plus slack), which
// bounds the memory that storages shared by many tensors can cost.
func materialize(entries []namedTensor, fileSize int64, read func(*storage) error) (StateDict, error) {
	budget := 8*fileSize + slack
	groups := map[*storage][]namedTensor{}
	var order []*storage
	for _, e := range entries {
		if int64(e.ref.numel) > budget/8 {
			return nil, fmt.Errorf("tensors of more than %d bytes in a file of %d bytes", 8*fileSize+slack, fileSize)
		}
		budget -= int64(e.ref.outBytes())
		root := e.ref.src.root
		if groups[root] == nil {
			order = append(order, root)
		}
		groups[root] = append(groups[root], e)
	}
	sd := make(StateDict, len(entries))
	for _, s := range order {
		if err := read(s); err != nil {
			return nil, err
		}
		for _, e := range groups[s] {
			t, err := e.ref.materialize()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", e.name, err)
			}
			sd[e.name] = t
		}
		s.data = nil
	}
	return sd, nil
}
