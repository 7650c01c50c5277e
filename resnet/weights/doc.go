// Package weights holds ResNet-family parameters as PyTorch state_dict
// entries.
//
// It reads state_dict files written by torch.save (the zip format of
// PyTorch >= 1.6 and the older legacy pickle format), bare or inside a
// training checkpoint, under torchvision's entry names, with LoadFile; makes
// the deterministic synthetic-v1 weights and inputs described in
// testdata/SYNTHETIC.md for every ResNet, Wide ResNet, ResNeXt and DenseNet
// with Synthetic and SyntheticInput; and checks a StateDict against the
// entries an architecture expects with Check.
//
// Loading treats the file as untrusted: a truncated, corrupted or hostile file
// gives an error, never a panic; the pickles may name only the globals that
// torch.load(weights_only=True) allows; and memory stays bounded by the
// bytes of the file's storages plus a fixed allowance for its pickles.
package weights
