// Package resnet builds torchvision's ResNet-18, -34, -50, -101 and -152 as
// op graphs with parameter names exactly as torchvision's state_dict, loads
// their weights (synthetic-v1, torchvision .pth files, pretrained downloads)
// and classifies images the way torchvision does.
//
// Subpackages: weights (synthetic-v1 and .pth loading), imagenet (image
// decoding, preprocessing, class names) and hub (pretrained downloads).
package resnet
