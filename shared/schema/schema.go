// Package schema generates the JSON Schemas of campaign and catalog files from
// the Go types and the activity registry, for editors' validation and
// autocompletion.
package schema

import (
	"bytes"
	"encoding/json"
	"reflect"

	"github.com/invopop/jsonschema"

	"github.com/stepwise-run/stepwise/shared/activity"
	"github.com/stepwise-run/stepwise/shared/activity/channel"
	"github.com/stepwise-run/stepwise/shared/activity/data"
	"github.com/stepwise-run/stepwise/shared/activity/flow"
	"github.com/stepwise-run/stepwise/shared/campaign"
	"github.com/stepwise-run/stepwise/shared/condition"
)

// Base URL of the committed schemas.
const baseID = "https://stepwise.dev/schema/"

func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		RequiredFromJSONSchemaTags: true,
		Mapper:                     mapper,
		Namer: func(t reflect.Type) string {
			// Qualify the generic name "Config" by its package.
			if t.Name() == "Config" {
				return "ChannelConfig"
			}
			return t.Name()
		},
	}
}

// mapper describes types whose YAML form is polymorphic.
func mapper(t reflect.Type) *jsonschema.Schema {
	str := &jsonschema.Schema{Type: "string"}
	obj := func(key string) *jsonschema.Schema {
		props := jsonschema.NewProperties()
		props.Set(key, &jsonschema.Schema{Type: "string"})
		return &jsonschema.Schema{Type: "object", Properties: props, Required: []string{key}}
	}
	switch t {
	case reflect.TypeOf(campaign.FromList{}):
		return &jsonschema.Schema{Description: "an activity id, activity.port, or a list of them",
			OneOf: []*jsonschema.Schema{str, {Type: "array", Items: str}}}
	case reflect.TypeOf(condition.Value{}), reflect.TypeOf(data.SetValue{}):
		return &jsonschema.Schema{Description: "a literal, a list, or {param}, {variable}, {field}, {ago}, {ahead}, {now: true} (update-data also {increment})"}
	case reflect.TypeOf(condition.Exists{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{{Const: true}, {Ref: "#/$defs/Condition"}}}
	case reflect.TypeOf(data.FileRef{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{str, obj("param")}}
	case reflect.TypeOf(channel.Content{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{str, obj("file")}}
	case reflect.TypeOf(flow.WaitUntil{}):
		return &jsonschema.Schema{OneOf: []*jsonschema.Schema{str, obj("param")}}
	}
	return nil
}

// Catalog returns the JSON Schema of catalog files.
func Catalog() ([]byte, error) {
	s := reflector().Reflect(&campaign.Catalog{})
	s.ID = baseID + "catalog.json"
	s.Title = "Stepwise catalog"
	return marshal(s)
}

// Campaign returns the JSON Schema of campaign files, with each activity
// type's fields attached to its `type` value.
func Campaign(reg *activity.Registry) ([]byte, error) {
	r := reflector()
	s := r.Reflect(&campaign.Campaign{})
	s.ID = baseID + "campaign.json"
	s.Title = "Stepwise campaign"
	act := s.Definitions["Activity"]
	act.AdditionalProperties = nil
	var types []any
	for _, typ := range reg.Types() {
		spec, _ := reg.Lookup(typ)
		types = append(types, typ)
		cs := r.Reflect(spec.NewConfig())
		name := cs.Ref[len("#/$defs/"):]
		for k, v := range cs.Definitions {
			if _, ok := s.Definitions[k]; !ok {
				s.Definitions[k] = v
			}
		}
		def := s.Definitions[name]
		then := &jsonschema.Schema{Properties: def.Properties, Required: def.Required, Description: spec.Summary}
		props := jsonschema.NewProperties()
		props.Set("type", &jsonschema.Schema{Const: typ})
		act.AllOf = append(act.AllOf, &jsonschema.Schema{If: &jsonschema.Schema{Properties: props}, Then: then})
		delete(s.Definitions, name)
	}
	if tp, ok := act.Properties.Get("type"); ok {
		tp.Enum = types
	}
	return marshal(s)
}

func marshal(s *jsonschema.Schema) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
