package h5

// Walk calls fn for every group and dataset reachable from the root, depth
// first in name order, each object once: one reached again through another
// link (a hard link to an ancestor, say) is not visited again. Exactly one
// of g and ds is set. Links to objects that are neither are skipped. The
// first error, from the file or from fn, stops the walk.
func (f *File) Walk(fn func(path string, g *Group, ds *Dataset) error) error {
	root, err := f.Root()
	if err != nil {
		return err
	}
	seen := map[uint64]bool{f.root: true}
	var walk func(g *Group) error
	walk = func(g *Group) error {
		if err := fn(g.Path, g, nil); err != nil {
			return err
		}
		for _, name := range g.names {
			addr := g.links[name]
			if seen[addr] {
				continue
			}
			seen[addr] = true
			path := g.Path + name
			if g.Path != "/" {
				path = g.Path + "/" + name
			}
			o, err := f.object(addr)
			if err != nil {
				return err
			}
			switch {
			case o.find(msgSymbolTable) != nil || o.find(msgLinkInfo) != nil || o.find(msgLink) != nil:
				child, err := f.group(path, addr)
				if err != nil {
					return err
				}
				if err := walk(child); err != nil {
					return err
				}
			case o.find(msgLayout) != nil:
				ds, err := f.dataset(path, addr)
				if err != nil {
					return err
				}
				if err := fn(path, nil, ds); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(root)
}
