// Package hub finds, downloads, caches and recognises torchvision's
// pretrained weights for its ResNet family, like torch.hub's
// download_url_to_file together with torchvision's weight registry.
//
// The registry is a copy of torchvision's metadata for the ImageNet-1K
// weights of resnet18 … resnet152, resnext50_32x4d, resnext101_32x8d,
// resnext101_64x4d, wide_resnet50_2, wide_resnet101_2 and densenet121 …
// densenet201 (versions v1 and, where torchvision has them, v2), embedded in
// the binary: the entries of torchvision 0.14, with the operation counts and
// file sizes of later releases' metadata. [Lookup] picks one entry and [All]
// lists them. [Recognize] tells which entry a file on disk is, by its name
// or, for a renamed file, by its size and SHA-256.
//
// [Fetch] returns the path of a weight file in the local cache
// ([CacheDir], normally ~/.cache/resnet-gpu), downloading it first when it is
// not there. The file name is torchvision's own (resnet50-11ad3fa6.pth), and
// the hex digits after its last '-' are a prefix of the file's SHA-256, which
// is checked on every download, as torchvision's check_hash does. A file
// already in the cache is trusted and not hashed again, unless it has not
// the registry's size or fails to load: [Damaged] then hashes it and says
// how to fetch it again (Options.Refresh, the command's --refresh).
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
//
// A source cannot run away: a file may be at most 1 KiB larger than the
// registry's size of it (or Options.MaxSize when that is unknown), whatever
// the server announces or sends, and a transfer is bounded in time both by
// a stall (no byte for Options.Stall) and as a whole (Options.Slack plus
// the size at Options.MinRate). A Fetch whose context is cancelled removes
// its temporary file; the temporary files of processes that were killed
// (named FILE.HOST.PID.RANDOM.partial) are removed by the next Fetch into
// the folder, as are any left for a day ([RemoveStale]).
package hub
