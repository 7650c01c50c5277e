// Package labels reads the class names of a classifier from a file, for
// models whose head is not ImageNet's, and makes placeholder names for heads
// that come without any.
//
// [Load] and [Parse] accept three formats:
//
//   - a text file with one name per line, in class order (a final newline is
//     optional; CRLF line ends and a UTF-8 byte-order mark are accepted);
//   - a JSON list of names, in class order;
//   - a JSON object from class index to name, like TorchServe's
//     index_to_name.json, whose values are names or [wnid, name] pairs:
//     {"0": ["n01440764", "tench"], "1": ["n01443537", "goldfish"], …}.
//
// A file must name every class of the model exactly once: the number of
// names must equal the model's class count, no line may be empty, no name
// (or, where given, WordNet id) may repeat, and a JSON object's keys must be
// exactly "0" … "n-1". Every error names the file and the line, list item
// or key at fault. Files are read whole but never beyond [MaxSize].
package labels
