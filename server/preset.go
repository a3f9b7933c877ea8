package server

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"

	"github.com/managarten/mana-auth/auth"
	"github.com/managarten/mana-auth/plugin"
	"github.com/managarten/mana-auth/storage"
)

// upstreamPreset is the storage.Naming of the upstream mana-auth database
// (MANA_SCHEMA=upstream): Better Auth's tables under upstream's Drizzle
// names in PostgreSQL schema "auth" (users, sessions, accounts, …, with
// snake_case columns), role and access_tier through upstream's enums
// auth.user_role and auth.access_tier, the server's security log and
// lockout on upstream's security_events and login_attempts. See
// docs/MIGRATING.md ("The upstream mana-auth database").
//
//go:embed presets/upstream.json
var upstreamPreset []byte

// SchemaPresets are the values MANA_SCHEMA accepts besides "" (Better
// Auth's default names).
var SchemaPresets = []string{"upstream"}

// UpstreamNaming returns the naming of MANA_SCHEMA=upstream.
func UpstreamNaming() storage.Naming {
	n, err := decodeNaming(upstreamPreset)
	if err != nil {
		panic("server: presets/upstream.json: " + err.Error())
	}
	return n
}

// decodeNaming decodes the JSON of a storage.Naming, refusing unknown
// keys (a typo such as "field" must not be ignored) and trailing data.
func decodeNaming(b []byte) (storage.Naming, error) {
	var n storage.Naming
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return storage.Naming{}, err
	}
	if dec.More() {
		return storage.Naming{}, fmt.Errorf("unexpected data after the JSON object")
	}
	return n, nil
}

// namingFromEnv reads MANA_SCHEMA and SCHEMA_MAPPING_FILE: the preset
// named, or the storage.Naming in the file (JSON). Both set is refused,
// as are an unknown preset and a file that cannot be read or decoded;
// whether the names fit the schema is checked when the SDK starts
// (storage.Naming.Apply names every problem).
func namingFromEnv(preset, file string) (_ string, n storage.Naming, err error) {
	switch {
	case preset != "" && file != "":
		return "", n, &ConfigError{"SCHEMA_MAPPING_FILE", "cannot be combined with MANA_SCHEMA (choose the preset or the file)"}
	case preset == "upstream":
		return preset, UpstreamNaming(), nil
	case preset != "":
		return "", n, &ConfigError{"MANA_SCHEMA", fmt.Sprintf("%q is not a schema preset (known: upstream)", preset)}
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", n, &ConfigError{"SCHEMA_MAPPING_FILE", err.Error()}
		}
		n, err = decodeNaming(b)
		if err != nil {
			return "", n, &ConfigError{"SCHEMA_MAPPING_FILE", fmt.Sprintf("%s: not a schema mapping (JSON with plural, tables, fields, types): %v", file, err)}
		}
		return "", n, nil
	}
	return "", n, nil
}

// namingFor is the naming the SDK gets with plugins mounted: a preset's
// entries for tables and fields that no mounted plugin declares
// (DISABLED_PLUGINS, passkeys off without a relying party) are left out,
// since the preset covers every feature; a SCHEMA_MAPPING_FILE is taken
// as written, and whatever it names that the schema lacks is refused.
func (cfg Config) namingFor(plugins []auth.Plugin) storage.Naming {
	if cfg.SchemaPreset == "" {
		return cfg.Naming
	}
	fields := map[string]map[string]bool{}
	add := func(s storage.Schema) {
		for _, t := range s.Tables {
			if fields[t.Name] == nil {
				fields[t.Name] = map[string]bool{}
			}
			for _, f := range t.Fields {
				fields[t.Name][f.Name] = true
			}
		}
	}
	add(auth.CoreSchema())
	for _, p := range plugins {
		if ss, ok := p.(plugin.SchemaSource); ok {
			add(ss.Schema())
		}
	}
	n := cfg.Naming
	out := storage.Naming{Plural: n.Plural, Tables: map[string]string{}, Fields: map[string]map[string]string{}, Types: map[string]map[string]string{}}
	for t, name := range n.Tables {
		if fields[t] != nil {
			out.Tables[t] = name
		}
	}
	keep := func(dst, src map[string]map[string]string) {
		for t, fs := range src {
			for f, v := range fs {
				if fields[t][f] {
					if dst[t] == nil {
						dst[t] = map[string]string{}
					}
					dst[t][f] = v
				}
			}
		}
	}
	keep(out.Fields, n.Fields)
	keep(out.Types, n.Types)
	return out
}
