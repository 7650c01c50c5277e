// Package h5 reads the subset of HDF5 that Keras weight files use, for
// untrusted files.
//
// It understands superblock versions 0 to 3; version 1 and version 2
// object headers with their continuation blocks; old-style groups (a
// symbol table: a version 1 B-tree of any depth over symbol-table nodes,
// names in a local heap) and new-style groups whose links are link
// messages in the object header (compact storage); attributes of
// fixed-length strings, variable-length strings (kept in global heap
// collections) and numbers; and datasets of 32-bit IEEE floats, either
// byte order, stored compact, contiguous or in uncompressed chunks (indexed
// by a version 1 B-tree, or, in version 4 layouts, a single chunk, an
// implicit index or an unpaged fixed array), read straight into []float32.
//
// What it does not understand it refuses with an error that says so:
// dense link or attribute storage (fractal heaps, version 2 B-trees),
// shared or committed datatypes, filters (compression), other element
// types for float data, external and virtual storage.
//
// Every address, size and count read from the file is checked before it is
// used: a read past the end of the file, a size that does not fit its
// structure, a B-tree or continuation chain that loops, or a dataset larger
// than the file could hold gives an error of one line, naming the file and
// the structure at fault, and never a panic. Memory is bounded by the file:
// nothing larger than the file is allocated on its word.
//
// A File is safe for concurrent use only by one goroutine at a time.
package h5
