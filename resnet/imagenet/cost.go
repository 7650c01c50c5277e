package imagenet

import (
	"encoding/binary"
	"image"
	"image/color"
	"io"
)

// decodeCost estimates from an image's header the bytes that decoding it
// takes at most: the pixels the format's decoder fills, the buffers it
// holds beside them, and the 8-bit copy that Decode makes of a wide image.
// head reads the file from its start, at least as far as
// image.DecodeConfig read it.
//
// The decoders' buffers, per pixel of the image, where b is the bytes a
// pixel of the decoded image (1 for grey or paletted, 2 for 16-bit grey, 4
// for RGBA, NRGBA or CMYK, 8 for 16-bit colour):
//
//   - PNG: none, or another b for an interlaced file (its passes);
//   - JPEG: none for a baseline file; for a progressive one 4 bytes for each
//     sample of every component, the coefficients it keeps; a CMYK (or
//     YCCK) file is decoded into planes and then into the CMYK image;
//   - TIFF: the largest strip or tile as the file stores it, decompressed
//     into a buffer that grows by doubling (4.5 times its size, or once
//     for an uncompressed one of under 10 MiB, which is read at once); a
//     file that never says how many rows a strip holds has one strip of
//     the whole image;
//   - WebP: another b (the lossless decoder's pixels); GIF, BMP: none.
func decodeCost(cfg image.Config, format string, head io.ReaderAt) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	b := bytesPerPixel(cfg.ColorModel)
	start := make([]byte, 64<<10)
	n, _ := head.ReadAt(start, 0)
	start = start[:n]
	var per float64 // bytes a pixel
	var extra int64 // bytes
	switch format {
	case "png":
		per = b
		if len(start) > 28 && start[28] == 1 { // IHDR's interlace method: Adam7
			per += b
		}
	case "jpeg":
		samples, progressive, ok := jpegFrame(start)
		if !ok { // assume the worst: progressive, no subsampling
			samples, progressive = b, true
		}
		per = samples
		if cfg.ColorModel == color.CMYKModel {
			per += 4
		}
		if progressive {
			per += 4 * samples
		}
	case "tiff":
		per = b
		block, compressed := tiffBlock(head, cfg)
		switch {
		case compressed || block >= 10<<20:
			extra = block * 9 / 2
		default:
			extra = block
		}
	case "webp":
		per = 2 * b
	default:
		per = b
	}
	switch cfg.ColorModel {
	case color.Gray16Model:
		per++ // the 8-bit grey copy
	case color.RGBA64Model, color.NRGBA64Model, color.CMYKModel:
		per += 3 // the RGB copy
	}
	return int64(per*float64(px)) + extra
}

// tiffBlock returns the bytes of the largest strip or tile of the TIFF
// that head reads, as the file stores it decompressed, and whether it is
// compressed. Where the header cannot be read it assumes the worst: one
// compressed strip of the whole image at 8 bytes a pixel.
func tiffBlock(head io.ReaderAt, cfg image.Config) (bytes int64, compressed bool) {
	worst := int64(cfg.Width) * int64(cfg.Height) * 8
	var h [8]byte
	if _, err := head.ReadAt(h[:], 0); err != nil {
		return worst, true
	}
	var order binary.ByteOrder = binary.LittleEndian
	if h[0] == 'M' {
		order = binary.BigEndian
	}
	off := int64(order.Uint32(h[4:]))
	var cnt [2]byte
	if _, err := head.ReadAt(cnt[:], off); err != nil {
		return worst, true
	}
	n := int(order.Uint16(cnt[:]))
	ifd := make([]byte, 12*n)
	if _, err := head.ReadAt(ifd, off+2); err != nil {
		return worst, true
	}
	// Width and height default to the image's (one strip), a sample to
	// 1 bit, a pixel to one sample; compression 1 is none.
	bw, bh, bits, spp, comp := int64(cfg.Width), int64(cfg.Height), int64(1), int64(1), uint32(1)
	for i := 0; i < n; i++ {
		e := ifd[12*i:]
		tag, typ, count := order.Uint16(e), order.Uint16(e[2:]), order.Uint32(e[4:])
		// The value, or where the values are when they do not fit in four
		// bytes; a SHORT value sits in the first two.
		v := int64(order.Uint32(e[8:]))
		if typ == 3 && count <= 2 {
			v = int64(order.Uint16(e[8:]))
		}
		switch tag {
		case 258: // BitsPerSample: the first sample's
			if typ == 3 && count > 2 {
				var s [2]byte
				if _, err := head.ReadAt(s[:], v); err != nil {
					return worst, true
				}
				v = int64(order.Uint16(s[:]))
			}
			bits = v
		case 259:
			comp = uint32(v)
		case 277:
			spp = v
		case 278: // RowsPerStrip
			bh = min(bh, v)
		case 322: // TileWidth
			bw = v
		case 323: // TileLength
			bh = v
		}
	}
	// The decoder refuses tiles more than 16 pixels larger than the image.
	if bits < 1 || bits > 64 || spp < 1 || spp > 16 || bw < 1 || bh < 1 ||
		bw > int64(cfg.Width)+16 || bh > int64(cfg.Height)+16 {
		return worst, true
	}
	return bw * bh * ((spp*bits + 7) / 8), comp != 1
}

// bytesPerPixel is the size of a pixel of an image of colour model m: at
// most 8 for a model it does not know.
func bytesPerPixel(m color.Model) float64 {
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	return 8
}

// jpegFrame reads a JPEG's frame header (SOFn) in head: the samples its
// components have for each pixel (1 for grey, 3 for YCbCr without
// subsampling, 1.5 for 4:2:0, 4 for CMYK) and whether it is progressive.
// ok is false when head holds no well-formed frame header.
func jpegFrame(head []byte) (samples float64, progressive, ok bool) {
	if len(head) < 2 || head[0] != 0xff || head[1] != 0xd8 {
		return 0, false, false
	}
	for i := 2; i+4 <= len(head); {
		if head[i] != 0xff {
			return 0, false, false
		}
		m := head[i+1]
		switch {
		case m == 0xff: // fill byte
			i++
			continue
		case m == 0x01 || m >= 0xd0 && m <= 0xd8: // markers without a length
			i += 2
			continue
		}
		n := int(head[i+2])<<8 | int(head[i+3]) // the length counts itself
		if n < 2 {
			return 0, false, false
		}
		if m < 0xc0 || m > 0xcf || m == 0xc4 || m == 0xc8 || m == 0xcc {
			i += 2 + n
			continue
		}
		// SOFn: precision, height, width, component count, then each
		// component's id, sampling factors and table.
		seg := head[i+4 : min(len(head), i+2+n)]
		if len(seg) < 6 || seg[5] == 0 || len(seg) < 6+3*int(seg[5]) {
			return 0, false, false
		}
		nc := int(seg[5])
		hmax, vmax, sum := 1, 1, 0
		for c := range nc {
			h, v := int(seg[7+3*c]>>4), int(seg[7+3*c]&15)
			hmax, vmax, sum = max(hmax, h), max(vmax, v), sum+h*v
		}
		return float64(sum) / float64(hmax*vmax), m == 0xc2 || m == 0xc6 || m == 0xca || m == 0xce, true
	}
	return 0, false, false
}
