// This file is compiled into Go's own text/template/parse package (go test -overlay) by port.py, so that
// Go's parse test tables can be written out as data. It is not part of acr-refresh's build.

package parse

import (
	"encoding/json"
	"os"
	"testing"
)

type dumpedParse struct {
	Source string `json:"source"`
	Name   string `json:"name"`
	Input  string `json:"input"`
	OK     bool   `json:"ok"`
	Result string `json:"result"`
}

func TestDumpTables(t *testing.T) {
	path := os.Getenv("DUMP_PARSE_TO")
	if path == "" {
		t.Skip("DUMP_PARSE_TO not set")
	}
	var cases []dumpedParse
	for _, c := range parseTests {
		cases = append(cases, dumpedParse{"parseTests", c.name, c.input, c.ok, c.result})
	}
	for _, c := range errorTests {
		cases = append(cases, dumpedParse{"errorTests", c.name, c.input, c.ok, c.result})
	}
	out, err := json.MarshalIndent(cases, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
