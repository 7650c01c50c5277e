// Package imagenet turns image files into the input tensors of torchvision's
// ImageNet-1K classifiers, and names the 1000 classes they predict.
//
// [Decode] and [Open] read JPEG, PNG, GIF, BMP, TIFF and WebP. They are
// meant for untrusted files: the header is checked first, and an image of
// more than [MaxPixels] pixels, or of none, or one whose decoding would take
// more than [MaxBytes] of memory, is refused before its pixels are
// allocated; a malformed file gives a one-line error naming it, never a
// panic. Wide images (16-bit, CMYK) come back converted to 8 bits, so that
// the wide copy does not outlive the decoding. [DecodeConfig] and
// [OpenConfig] make the same header checks without decoding the pixels.
//
// [Transform.Apply] reproduces torchvision's evaluation preprocessing on a
// PIL image, Resize, CenterCrop, ToTensor and Normalize, bit for bit: the
// conversion to RGB follows Pillow's convert("RGB") ([ToRGB]) and the resize
// is a transcription of Pillow's antialiased bilinear resampling, fixed-point
// rounding included. [V1] and [V2] are the settings of torchvision's
// IMAGENET1K_V1 and IMAGENET1K_V2 weights. For PNG files the result equals
// torchvision's tensor exactly. JPEG files decode slightly differently in
// Go than in libjpeg-turbo, which Pillow uses, so their tensors differ a
// little from torchvision's: for testdata/images/rocket.jpg by 0.0044 on
// average and 0.035 (two grey levels) at most.
//
// [Label] and [WNID] name class indices as torchvision does.
package imagenet
