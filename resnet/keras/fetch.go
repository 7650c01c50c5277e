package keras

import (
	"context"
	"os"
	"strings"

	"github.com/resnet-gpu/resnet-gpu/resnet/hub"
)

// BaseEnv is the environment variable that overrides DefaultBase: a mirror
// of the keras-applications files (an http(s) or file URL, or a directory).
const BaseEnv = "RESNET_GPU_KERAS_BASE"

// DefaultBase is where keras.applications downloads its ResNet weights.
const DefaultBase = "https://storage.googleapis.com/tensorflow/keras-applications/resnet/"

// hashes are the MD5 hashes Keras checks of the ImageNet weight files with
// their top (keras.applications.resnet's WEIGHTS_HASHES).
var hashes = map[string]string{
	"resnet50":    "2cb95161c43110f7111970584f804107",
	"resnet101":   "f1aeb4b969a6efcfb50fad2f0c20cfc5",
	"resnet152":   "100835be76be38e30d865e96f2aaae62",
	"resnet50v2":  "3ef43a0b657b3be2300d5770ece849e0",
	"resnet101v2": "6343647c601c52e1368623803854d971",
	"resnet152v2": "a49b44d1979771252814e80f8ec446f9",
}

// FileName is the name of arch's ImageNet weights file, as Keras names it:
// resnet50_weights_tf_dim_ordering_tf_kernels.h5.
func FileName(arch string) string { return arch + "_weights_tf_dim_ordering_tf_kernels.h5" }

// IsDownload reports whether path has the name of a keras-applications
// ImageNet weights file, and for which architecture.
func IsDownload(path string) (string, bool) {
	base := path[strings.LastIndexAny(path, `/\`)+1:]
	for a := range hashes {
		if base == FileName(a) {
			return a, true
		}
	}
	return "", false
}

// Fetch returns the path of arch's keras-applications ImageNet weights in
// the cache (hub.CacheDir), downloading it first from BaseEnv's mirror or
// DefaultBase, as hub.Fetch does torchvision's: with opt's progress bar,
// Keras' MD5 checked, written atomically. opt.Base, if set, is used as is.
func Fetch(ctx context.Context, arch string, opt hub.Options) (string, error) {
	a, err := Lookup(arch)
	if err != nil {
		return "", err
	}
	if opt.Base == "" {
		opt.Base = os.Getenv(BaseEnv)
	}
	if opt.Base == "" {
		opt.Base = DefaultBase
	}
	if opt.Hint == "" {
		opt.Hint = "(use --weights FILE.h5, or set " + BaseEnv + " to a mirror of the keras-applications files)"
	}
	w := hub.Weights{Name: "keras " + a.Name, Arch: a.Name, File: FileName(a.Name), Hash: hashes[a.Name], HashAlg: "md5"}
	return hub.Fetch(ctx, w, opt)
}
