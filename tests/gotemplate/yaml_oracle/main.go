// Command yaml_oracle is the Go template oracle (../oracle/main.go) with ESO's own toYaml and fromYaml added,
// exactly as External Secrets Operator v2.9.0 defines them (runtime/template/v2/yaml.go, Apache-2.0, see
// ../LICENSE-eso.txt): sigs.k8s.io/yaml's Marshal and Unmarshal over gopkg.in/yaml.v2. Same protocol as the
// oracle: one JSON request per line on stdin, one JSON reply per line on stdout.
//
// It reads one JSON request per line on stdin and writes one JSON reply per line on stdout:
//
//	{"template": "...", "data": {...}, "strmap": true, "missingkey": "error"}
//	{"ok": true, "out": "<base64 of the output bytes>"}
//	{"ok": false, "phase": "parse" | "exec", "error": "..."}
//
// As ESO does: text/template with Option("missingkey=error") and Sprig's TxtFuncMap without env and
// expandenv. With "strmap" the data is a map[string]string (ESO's generator and secret data); otherwise
// JSON is decoded with integers as int and other numbers as float64, as acr-refresh's engine types them.
package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig"
	"sigs.k8s.io/yaml"
)

type request struct {
	Template   string          `json:"template"`
	Data       json.RawMessage `json:"data"`
	StrMap     bool            `json:"strmap"`
	MissingKey string          `json:"missingkey"`
}

type reply struct {
	OK    bool   `json:"ok"`
	Out   string `json:"out,omitempty"`
	Phase string `json:"phase,omitempty"`
	Error string `json:"error,omitempty"`
}

var funcs = func() template.FuncMap {
	m := sprig.TxtFuncMap()
	delete(m, "env")
	delete(m, "expandenv")
	m["toYaml"] = toYAML
	m["fromYaml"] = fromYAML
	return m
}()

// toYAML and fromYAML: ESO v2.9.0's runtime/template/v2/yaml.go, verbatim but for the comments.
// Copyright The ESO Authors, Licensed under the Apache License, Version 2.0.
func toYAML(v any) string {
	data, err := yaml.Marshal(v)
	if err != nil {
		// Swallow errors inside of a template.
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(str string) map[string]any {
	m := map[string]any{}

	if err := yaml.Unmarshal([]byte(str), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// typed turns json.Number into int (integer literals that fit) or float64, recursively.
func typed(v any) any {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if !strings.ContainsAny(s, ".eE") {
			if i, err := x.Int64(); err == nil {
				return int(i)
			}
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = typed(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = typed(e)
		}
		return x
	}
	return v
}

func decode(req *request) (any, error) {
	if len(req.Data) == 0 || string(req.Data) == "null" {
		if req.StrMap {
			return map[string]string{}, nil
		}
		return nil, nil
	}
	if req.StrMap {
		m := map[string]string{}
		err := json.Unmarshal(req.Data, &m)
		return m, err
	}
	dec := json.NewDecoder(bytes.NewReader(req.Data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return typed(v), nil
}

func render(req *request) (rep reply) {
	defer func() {
		if r := recover(); r != nil {
			rep = reply{Phase: "exec", Error: fmt.Sprintf("panic: %v", r)}
		}
	}()
	missing := req.MissingKey
	if missing == "" {
		missing = "error"
	}
	t, err := template.New("t").Option("missingkey=" + missing).Funcs(funcs).Parse(req.Template)
	if err != nil {
		return reply{Phase: "parse", Error: err.Error()}
	}
	data, err := decode(req)
	if err != nil {
		return reply{Phase: "data", Error: err.Error()}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return reply{Phase: "exec", Error: err.Error()}
	}
	return reply{OK: true, Out: base64.StdEncoding.EncodeToString(buf.Bytes())}
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 16<<20)
	out := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(out)
	for in.Scan() {
		var req request
		rep := reply{Phase: "request"}
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			rep.Error = err.Error()
		} else {
			rep = render(&req)
		}
		if err := enc.Encode(rep); err != nil {
			os.Exit(1)
		}
		if err := out.Flush(); err != nil {
			os.Exit(1)
		}
	}
}
