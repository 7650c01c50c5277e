// Package hub finds, downloads and caches torchvision's pretrained ResNet
// weights, like torch.hub's download_url_to_file together with torchvision's
// weight registry.
//
// The registry is a copy of torchvision's metadata for the ImageNet-1K
// ResNet weights (resnet18 … resnet152, versions v1 and, where torchvision
// has them, v2), embedded in the binary. [Lookup] picks one entry and [All]
// lists them.
//
// [Fetch] returns the path of a weight file in the local cache
// ([CacheDir], normally ~/.cache/resnet-gpu), downloading it first when it is
// not there. The file name is torchvision's own (resnet50-11ad3fa6.pth), and
// the hex digits after its last '-' are a prefix of the file's SHA-256, which
// is checked on every download, as torchvision's check_hash does. A file
// already in the cache is trusted and not hashed again.
//
// The download source is [BaseURL] followed by the file name: by default
// https://download.pytorch.org/models/, or the value of the
// RESNET_GPU_WEIGHTS_BASE environment variable. A mirror is therefore a plain
// folder of torchvision's files served over HTTP(S); on sites without network
// access the base may also be a file:// URL or a directory path, and the file
// is then copied from disk with the same checks.
//
// Downloads are safe to run concurrently, from several goroutines or several
// processes sharing one cache: each writes to its own temporary file in the
// cache directory and renames it into place only once it is complete, synced
// and verified. The rename is atomic, and every writer puts identical bytes
// in place, so a reader never sees a partial or corrupt file.
package hub
