package serve

// extensions are the protocol extensions the server supports.
var extensions = []string{"binary_tensor_data", "classification"}

// platform is the model platform metadata names.
const platform = "resnet-gpu"

// tensorMeta is a tensor's name, data type and shape (-1: any size).
type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// modelMeta is a model's metadata.
type modelMeta struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []tensorMeta `json:"inputs"`
	Outputs  []tensorMeta `json:"outputs"`
}

// metadata describes a model: an input of either data type, and the three
// outputs.
func (s *Server) metadata(name string) (*modelMeta, error) {
	b := s.models[name]
	if b == nil {
		return nil, notFound(name)
	}
	c, k := int64(b.m.Transform.Crop), int64(b.m.Arch.Classes)
	return &modelMeta{
		Name: name, Versions: []string{Version}, Platform: platform,
		Inputs: []tensorMeta{
			{"input", fp32, []int64{-1, 3, c, c}},
			{"image", bytesType, []int64{-1}},
		},
		Outputs: []tensorMeta{
			{outLogits, fp32, []int64{-1, k}},
			{outProbs, fp32, []int64{-1, k}},
			{outClasses, bytesType, []int64{-1, min(int64(s.opt.Top), k)}},
		},
	}, nil
}

// modelReady reports whether a model exists and the server is ready.
func (s *Server) modelReady(name, version string) (bool, error) {
	if s.models[name] == nil || version != "" && version != Version {
		return false, notFound(name)
	}
	return s.Ready(), nil
}
