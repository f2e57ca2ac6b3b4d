// Recorder for Sprig's own tests (our code, not Sprig's): port_sprig.py overlays Sprig's functions_test.go
// helpers with these. Every template a Sprig test renders through runt, runtv or runRaw is written out as
// one JSON line to $SPRIG_RECORD_TO: the template, the expected output the test passes (runt/runtv), the
// data as JSON when it is JSON-shaped, and what real Sprig (the version under test) gave.
package sprig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"strings"
	"text/template"
)

type recorded struct {
	Test     string `json:"test"`
	Helper   string `json:"helper"`
	Template string `json:"template"`
	Expect   string `json:"expect"`
	HasWant  bool   `json:"has_expect"`
	Data     interface{}    `json:"data"`
	DataType string `json:"data_type"`
	DataJSON bool   `json:"data_json"`
	Ok       bool   `json:"ok"`
	Phase    string `json:"phase,omitempty"`
	Out      string `json:"out"`
	Error    string `json:"error,omitempty"`
}

func testName() string {
	for i := 2; i < 8; i++ {
		pc, _, _, ok := runtime.Caller(i)
		if !ok {
			break
		}
		n := runtime.FuncForPC(pc).Name()
		if j := strings.LastIndex(n, ".Test"); j >= 0 {
			n = n[j+1:]
			if k := strings.Index(n, "."); k >= 0 {
				n = n[:k]
			}
			return n
		}
	}
	return "?"
}

func record(helper, tpl, expect string, hasWant bool, vars interface{}) (string, error) {
	r := recorded{Test: testName(), Helper: helper, Template: tpl, Expect: expect, HasWant: hasWant,
		DataType: fmt.Sprintf("%T", vars)}
	if raw, err := json.Marshal(vars); err == nil {
		var back interface{}
		if json.Unmarshal(raw, &back) == nil {
			again, _ := json.Marshal(back)
			r.Data, r.DataJSON = back, bytes.Equal(raw, again)
		}
	}
	var out string
	var err error
	t, perr := template.New("test").Funcs(TxtFuncMap()).Parse(tpl)
	if perr != nil {
		r.Phase, err = "parse", perr
	} else {
		var b bytes.Buffer
		err = t.Execute(&b, vars)
		out = b.String()
		if err != nil {
			r.Phase = "exec"
		}
	}
	r.Ok, r.Out = err == nil, out
	if err != nil {
		r.Error = err.Error()
	}
	if f, ferr := os.OpenFile(os.Getenv("SPRIG_RECORD_TO"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600); ferr == nil {
		line, _ := json.Marshal(r)
		f.Write(append(line, '\n'))
		f.Close()
	}
	return out, err
}

func runt(tpl, expect string) error {
	return runtv(tpl, expect, map[string]string{})
}

func runtv(tpl, expect string, vars interface{}) error {
	out, err := record("runtv", tpl, expect, true, vars)
	if err != nil {
		return err
	}
	if expect != out {
		return fmt.Errorf("Expected '%s', got '%s'", expect, out)
	}
	return nil
}

func runRaw(tpl string, vars interface{}) (string, error) {
	return record("runRaw", tpl, "", false, vars)
}
