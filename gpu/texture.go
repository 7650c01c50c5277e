package gpu

import (
	"fmt"

	"github.com/rajveermalviya/go-webgpu/wgpu"
)

// TexWidth is the width in texels of every Texture: texel i sits at
// (i mod TexWidth, i / TexWidth). Kernels index textures with it.
const TexWidth = 4096

// Texture is a flat array of float32 quadruples on the device, an
// rgba32float 2-D texture TexWidth texels wide that kernels read with
// textureLoad (texture_2d<f32>) or write with textureStore
// (texture_storage_2d<rgba32float, write>). llvmpipe fetches a texel for 8
// lanes with vector gathers, where a storage-buffer load is a loop over the
// lanes (about 8 times slower per float, measured on lavapipe). Its
// methods are safe for concurrent use (they take the device's lock);
// Release must not race with a run that uses the texture.
type Texture struct {
	Label  string
	Texels uint64
	t      *wgpu.Texture
	v      *wgpu.TextureView
	d      *Device
}

// texRows is the number of TexWidth-texel rows that hold texels texels
// (at least one).
func texRows(texels uint64) uint64 { return (max(texels, 1) + TexWidth - 1) / TexWidth }

// NewTexture allocates a texture of at least texels float32 quadruples.
func (d *Device) NewTexture(label string, texels uint64) (*Texture, error) {
	rows := texRows(texels)
	if rows > uint64(d.Limits.MaxTextureDimension2D) {
		return nil, fmt.Errorf("gpu: texture %s: %d texels exceed the adapter's %d×%d limit", label, texels, TexWidth, d.Limits.MaxTextureDimension2D)
	}
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	tx := &Texture{Label: label, Texels: rows * TexWidth, d: d}
	err := d.scoped("gpu: texture "+label, func() (err error) {
		tx.t, err = d.dev.CreateTexture(&wgpu.TextureDescriptor{
			Label:         label,
			Size:          wgpu.Extent3D{Width: TexWidth, Height: uint32(rows), DepthOrArrayLayers: 1},
			MipLevelCount: 1,
			SampleCount:   1,
			Dimension:     wgpu.TextureDimension_2D,
			Format:        wgpu.TextureFormat_RGBA32Float,
			Usage:         wgpu.TextureUsage_TextureBinding | wgpu.TextureUsage_StorageBinding | wgpu.TextureUsage_CopyDst,
		})
		if err != nil {
			return err
		}
		tx.v, err = tx.t.CreateView(nil)
		return err
	})
	if err != nil {
		tx.release()
		return nil, err
	}
	return tx, nil
}

// WriteTexture fills texture t from texel 0 with vals, 4 floats a texel:
// the whole rows straight from vals, the last one zero-padded.
func (d *Device) WriteTexture(t *Texture, vals []float32) error {
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	n := uint64(len(vals)+3) / 4
	if t == nil || t.t == nil {
		return fmt.Errorf("gpu: write texture: no texture")
	}
	if n > t.Texels {
		return fmt.Errorf("gpu: texture %s: %d texels written, %d allocated", t.Label, n, t.Texels)
	}
	const row = TexWidth * 4 // floats
	full := uint64(len(vals)) / row
	tail := make([]float32, row)
	copy(tail, vals[full*row:])
	write := func(y uint64, data []float32, rows uint64) {
		d.queue.WriteTexture(
			&wgpu.ImageCopyTexture{Texture: t.t, Origin: wgpu.Origin3D{Y: uint32(y)}, Aspect: wgpu.TextureAspect_All},
			Bytes(data),
			&wgpu.TextureDataLayout{BytesPerRow: row * 4, RowsPerImage: uint32(rows)},
			&wgpu.Extent3D{Width: TexWidth, Height: uint32(rows), DepthOrArrayLayers: 1})
	}
	return d.scoped("gpu: write texture "+t.Label, func() error {
		if full > 0 {
			write(0, vals[:full*row], full)
		}
		if full < texRows(n) {
			write(full, tail, 1)
		}
		return nil
	})
}

// Release frees the texture.
func (t *Texture) Release() {
	if t == nil || t.d == nil {
		return
	}
	t.d.mu.Lock()
	defer t.d.mu.Unlock()
	t.release()
}

// release is Release with the device lock held.
func (t *Texture) release() {
	if t.v != nil {
		t.v.Release()
		t.v = nil
	}
	if t.t != nil {
		t.t.Destroy()
		t.t.Release()
		t.t = nil
	}
}

// Binding is what a dispatch binds: a *Buffer (the whole buffer), a
// Region of one, or a *Texture.
type Binding interface {
	// Release frees the buffer's or texture's memory (a Region's: nothing).
	Release()
	// entry is the bind group entry at index binding, or why there is none.
	entry(binding uint32) (wgpu.BindGroupEntry, error)
}

func (b *Buffer) entry(i uint32) (wgpu.BindGroupEntry, error) {
	if b == nil || b.b == nil {
		return wgpu.BindGroupEntry{}, fmt.Errorf("no buffer")
	}
	if b.Size > b.d.Limits.MaxStorageBufferBinding {
		return wgpu.BindGroupEntry{}, fmt.Errorf("buffer %s: %d bytes exceed the device's storage binding limit of %d bytes; bind a Region of it", b.Label, b.Size, b.d.Limits.MaxStorageBufferBinding)
	}
	return wgpu.BindGroupEntry{Binding: i, Buffer: b.b, Size: b.Size}, nil
}

func (t *Texture) entry(i uint32) (wgpu.BindGroupEntry, error) {
	if t == nil || t.v == nil {
		return wgpu.BindGroupEntry{}, fmt.Errorf("no texture")
	}
	return wgpu.BindGroupEntry{Binding: i, TextureView: t.v}, nil
}

// texCopy is a copy of the first texels float quadruples of a buffer
// region into a texture.
type texCopy struct {
	src    Region
	dst    *Texture
	texels uint64
}

// CopyFirst makes the dispatch begin with a copy of the first texels
// float32 quadruples of src (a region whose offset is a multiple of 16
// bytes) into dst from texel 0, so that the kernel can read as a texture
// what the kernels before it wrote to a buffer.
func (ds *Dispatch) CopyFirst(src Region, dst *Texture, texels uint64) error {
	if ds.d == nil {
		return fmt.Errorf("gpu: %s: copy to texture: the dispatch was not made by a device", ds.Label)
	}
	ds.d.mu.Lock()
	defer ds.d.mu.Unlock()
	if src.Buf == nil || src.Buf.b == nil || dst == nil || dst.t == nil {
		return fmt.Errorf("gpu: %s: copy to texture: no buffer or texture", ds.Label)
	}
	if err := checkRegion("copy to texture from", src.Buf, src.Offset, src.Size); err != nil {
		return fmt.Errorf("%s: %w", ds.Label, err)
	}
	if src.Offset%16 != 0 || 16*texels > src.Size || texels > dst.Texels {
		return fmt.Errorf("gpu: %s: copy of %d texels from %d bytes of buffer %s at byte %d to texture %s (%d texels)", ds.Label, texels, src.Size, src.Buf.Label, src.Offset, dst.Label, dst.Texels)
	}
	ds.copy = &texCopy{src: src, dst: dst, texels: texels}
	return nil
}

// encode records the copy: the whole rows, then the rest.
func (c *texCopy) encode(enc *wgpu.CommandEncoder) error {
	rows, rest := c.texels/TexWidth, c.texels%TexWidth
	const row = TexWidth * 16
	if rows > 0 {
		err := enc.CopyBufferToTexture(
			&wgpu.ImageCopyBuffer{Buffer: c.src.Buf.b, Layout: wgpu.TextureDataLayout{Offset: c.src.Offset, BytesPerRow: row, RowsPerImage: uint32(rows)}},
			&wgpu.ImageCopyTexture{Texture: c.dst.t, Aspect: wgpu.TextureAspect_All},
			&wgpu.Extent3D{Width: TexWidth, Height: uint32(rows), DepthOrArrayLayers: 1})
		if err != nil {
			return err
		}
	}
	if rest == 0 {
		return nil
	}
	return enc.CopyBufferToTexture(
		&wgpu.ImageCopyBuffer{Buffer: c.src.Buf.b, Layout: wgpu.TextureDataLayout{Offset: c.src.Offset + rows*row, BytesPerRow: row, RowsPerImage: 1}},
		&wgpu.ImageCopyTexture{Texture: c.dst.t, Origin: wgpu.Origin3D{Y: uint32(rows)}, Aspect: wgpu.TextureAspect_All},
		&wgpu.Extent3D{Width: uint32(rest), Height: 1, DepthOrArrayLayers: 1})
}
