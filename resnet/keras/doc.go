// Package keras runs Keras' ResNets (keras.applications ResNet50, ResNet101,
// ResNet152 and their V2 variants) from their weight files, as Keras does.
//
// [Load] reads a Keras weights file: the legacy HDF5 layout of
// model.save_weights("x.h5") and of the keras-applications downloads
// (fixed-length string attributes as Keras 2.2.4 wrote with h5py 2, or
// variable-length ones as Keras 2.15 writes with h5py 3), or Keras 3's
// .weights.h5 (layers/NAME/vars/0, 1, …). The architecture is inferred from
// the layer names and kernel shapes, every layer and weight the file names
// must be there, and every weight the architecture needs must be in the
// file with its shape. [Fetch] downloads the keras-applications file of a
// named architecture, checking Keras' MD5 hash.
//
// The networks are Keras' and not torchvision's: stride 2 sits in the first
// 1×1 convolution of a stage's first block (and in its shortcut), every
// convolution of V1 has a bias, batch normalisation uses ε = 1.001e-5, and the
// stem pads explicitly before a valid 7×7 convolution and a valid 3×3 max
// pool. V2 blocks are pre-activation blocks with their stride in the last
// block of a stage. [Model.Build] expresses them with the graph package's
// operations, on NCHW tensors whose channels are those Keras' preprocessing
// gives: B, G, R for V1, R, G, B for V2.
//
// [Preprocess] is keras.utils.load_img(path, target_size=(224, 224))
// followed by preprocess_input: Pillow's NEAREST resize to 224×224 (no crop,
// the aspect ratio not kept), then "caffe" mode for V1 (RGB → BGR, minus
// Keras' channel means) or "tf" mode for V2 (x/127.5 − 1). [Labels] and
// [WNIDs] name the classes as Keras' imagenet_class_index.json does.
package keras
