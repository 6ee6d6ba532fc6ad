package argohealth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// Argo CD's health statuses.
const (
	Healthy     = "Healthy"
	Progressing = "Progressing"
	Degraded    = "Degraded"
	Suspended   = "Suspended"
	Missing     = "Missing"
	Unknown     = "Unknown"
)

// Status is what a health check returns.
type Status struct {
	Status  string `json:"status"`
	Message string `json:"message,omitempty"`
}

// ErrInvalidStatus is returned for a status Argo CD does not know, which
// it would show as Unknown.
var ErrInvalidStatus = errors.New("invalid health status")

// timeout is how long Argo CD lets a health script run.
const timeout = time.Second

// Evaluate runs script on obj, an object as the API server returns it
// (unstructured content).
func Evaluate(script string, obj map[string]any) (Status, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	// The libraries Argo CD opens: no string, os or io library, so a
	// script that calls string.find works here no more than there.
	for name, open := range map[string]lua.LGFunction{
		lua.LoadLibName: lua.OpenPackage,
		lua.BaseLibName: lua.OpenBase,
		lua.TabLibName:  lua.OpenTable,
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(open), Protect: true}, lua.LString(name)); err != nil {
			return Status{}, fmt.Errorf("unable to open the Lua library '%s': %w", name, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj))
	if err := l.DoString(script); err != nil {
		return Status{}, fmt.Errorf("health script failed: %w", err)
	}
	ret, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return Status{}, fmt.Errorf("health script returned %s, want a table", l.Get(-1).Type())
	}
	st := Status{Status: lua.LVAsString(ret.RawGetString("status")), Message: lua.LVAsString(ret.RawGetString("message"))}
	if !slices.Contains([]string{Healthy, Progressing, Degraded, Suspended, Missing, Unknown}, st.Status) {
		return st, fmt.Errorf("%w '%s'", ErrInvalidStatus, st.Status)
	}
	return st, nil
}

// toLua converts unstructured content as Argo CD does: maps to tables,
// slices to arrays from index 1, numbers to Lua numbers.
func toLua(l *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case map[string]any:
		t := l.NewTable()
		for k, e := range v {
			t.RawSetString(k, toLua(l, e))
		}
		return t
	case []any:
		t := l.NewTable()
		for _, e := range v {
			t.Append(toLua(l, e))
		}
		return t
	default:
		return lua.LString(fmt.Sprint(v))
	}
}
