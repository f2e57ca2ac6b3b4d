// This file is compiled into Go's own text/template package (go test -overlay) by port.py, so that
// Go's test tables can be written out as data. It is not part of acr-refresh's build.

package template

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// jsonOf renders v as JSON-shaped data (what acr-refresh's engine can hold), and whether that was exact.
func jsonOf(v reflect.Value, depth int) (any, bool) {
	if !v.IsValid() || depth > 10 {
		return nil, v.IsValid() == false
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil, v.Kind() == reflect.Interface
		}
		x, _ := jsonOf(v.Elem(), depth+1)
		return x, false
	case reflect.Bool:
		return v.Bool(), true
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(v.Int(), 10)), v.Kind() == reflect.Int
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(v.Uint(), 10)), false
	case reflect.Float32, reflect.Float64:
		s := strconv.FormatFloat(v.Float(), 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return json.Number(s), v.Kind() == reflect.Float64
	case reflect.String:
		return v.String(), v.Type() == reflect.TypeOf("")
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil, false
		}
		out, exact := []any{}, v.Type() == reflect.TypeOf([]any{})
		for i := 0; i < v.Len(); i++ {
			x, ok := jsonOf(v.Index(i), depth+1)
			out, exact = append(out, x), exact && ok
		}
		return out, exact
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String || v.IsNil() {
			return nil, false
		}
		out, exact := map[string]any{}, v.Type() == reflect.TypeOf(map[string]any{})
		for _, k := range v.MapKeys() {
			x, ok := jsonOf(v.MapIndex(k), depth+1)
			out[k.String()], exact = x, exact && ok
		}
		return out, exact
	case reflect.Struct:
		out := map[string]any{}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() {
				continue
			}
			if k := f.Type.Kind(); k == reflect.Func || k == reflect.Chan || k == reflect.Complex128 {
				continue
			}
			x, _ := jsonOf(v.Field(i), depth+1)
			out[f.Name] = x
		}
		return out, false
	}
	return nil, false
}

// typedJSON decodes JSON as acr-refresh's oracle does: integers as int, other numbers as float64.
func typedJSON(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	var walk func(any) any
	walk = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if !strings.ContainsAny(string(x), ".eE") {
				i, _ := x.Int64()
				return int(i)
			}
			f, _ := x.Float64()
			return f
		case map[string]any:
			for k, e := range x {
				x[k] = walk(e)
			}
		case []any:
			for i, e := range x {
				x[i] = walk(e)
			}
		}
		return v
	}
	return walk(v)
}

type dumpedCase struct {
	Source   string          `json:"source"`
	Name     string          `json:"name"`
	Template string          `json:"template"`
	Defines  []string        `json:"defines,omitempty"`
	Data     json.RawMessage `json:"data"`
	Want     string          `json:"want"`
	OK       bool            `json:"ok"`
	// What real Go does with Data (the JSON-shaped copy of the table's Go data).
	JSONOK    bool   `json:"json_ok"`
	JSONOut   string `json:"json_out"`
	JSONError string `json:"json_error,omitempty"`
	Exact     bool   `json:"exact_data"`
	Methods   []string `json:"methods,omitempty"`
	FuncFields []string `json:"func_fields,omitempty"`
}

var testFuncs = FuncMap{
	"add": add, "count": count, "dddArg": dddArg, "die": func() bool { panic("die") }, "echo": echo,
	"makemap": makemap, "mapOfThree": mapOfThree, "oneArg": oneArg, "returnInt": returnInt,
	"stringer": stringer, "twoArgs": twoArgs, "typeOf": typeOf, "valueString": valueString, "vfunc": vfunc,
	"zeroArgs": zeroArgs,
}

// names of the methods and function-valued fields reachable from v's type (for the skip reasons)
func goNames(t reflect.Type, seen map[reflect.Type]bool, methods, funcs map[string]bool) {
	if t == nil || seen[t] {
		return
	}
	seen[t] = true
	for _, tt := range []reflect.Type{t, reflect.PointerTo(t)} {
		for i := 0; i < tt.NumMethod(); i++ {
			methods[tt.Method(i).Name] = true
		}
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		goNames(t.Elem(), seen, methods, funcs)
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if f.Type.Kind() == reflect.Func {
				funcs[f.Name] = true
			}
			goNames(f.Type, seen, methods, funcs)
		}
	}
}

func run(defines []string, name, text string, funcs FuncMap, data any) (string, error) {
	root := New("root").Funcs(funcs)
	for _, d := range defines {
		if _, err := root.Parse(d); err != nil {
			panic(err)
		}
	}
	tmpl, err := root.New(name).Funcs(funcs).Parse(text)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, data)
	return b.String(), err
}

func dumpCase(source string, defines []string, name, text, want string, ok bool, data any, funcs FuncMap) dumpedCase {
	jv, exact := jsonOf(reflect.ValueOf(data), 0)
	raw, err := json.Marshal(jv)
	if err != nil {
		panic(err)
	}
	c := dumpedCase{Source: source, Name: name, Template: text, Defines: defines, Data: raw, Want: want, OK: ok,
		Exact: exact}
	out, err := run(defines, name, text, funcs, typedJSON(raw))
	c.JSONOut, c.JSONOK = out, err == nil
	if err != nil {
		c.JSONError = err.Error()
	}
	methods, ff := map[string]bool{}, map[string]bool{}
	if data != nil {
		goNames(reflect.TypeOf(data), map[reflect.Type]bool{}, methods, ff)
	}
	for m := range methods {
		if strings.Contains(text, "."+m) {
			c.Methods = append(c.Methods, m)
		}
	}
	for f := range ff {
		if strings.Contains(text, "."+f) {
			c.FuncFields = append(c.FuncFields, f)
		}
	}
	return c
}

func TestDumpTables(t *testing.T) {
	path := os.Getenv("DUMP_EXEC_TO")
	if path == "" {
		t.Skip("DUMP_EXEC_TO not set")
	}
	var cases []dumpedCase
	for _, c := range execTests {
		cases = append(cases, dumpCase("execTests", nil, c.name, c.input, c.output, c.ok, c.data, testFuncs))
	}
	for _, c := range multiExecTests {
		cases = append(cases, dumpCase("multiExecTests", []string{multiText1, multiText2}, c.name, c.input,
			c.output, c.ok, c.data, testFuncs))
	}
	var cmpStruct = struct {
		Uthree, Ufour    uint
		NegOne, Three    int
		Ptr, NilPtr      *int
		NonNilMap        map[int]int
		Map              map[int]int
		V1, V2           V
		Iface1, NilIface fmt.Stringer
	}{Uthree: 3, Ufour: 4, NegOne: -1, Three: 3, Ptr: new(int), NonNilMap: make(map[int]int),
		Iface1: new(bytes.Buffer)}
	for _, c := range cmpTests {
		text := fmt.Sprintf("{{if %s}}true{{else}}false{{end}}", c.expr)
		cases = append(cases, dumpCase("cmpTests", nil, c.expr, text, c.truth, c.ok, &cmpStruct, FuncMap{}))
	}
	out, err := json.MarshalIndent(cases, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
}
