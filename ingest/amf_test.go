package ingest

import (
	"bytes"
	"errors"
	"testing"

	"github.com/yutopp/go-amf0"
)

// amfEncode encodes values with go-amf0, as a client library would.
func amfEncode(t testing.TB, values ...any) []byte {
	var b bytes.Buffer
	enc := amf0.NewEncoder(&b)
	for _, v := range values {
		if err := enc.Encode(v); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

func TestCheckAMF0(t *testing.T) {
	nest := func(depth int) []byte {
		b := bytes.Repeat([]byte{amfObject, 0, 1, 'a'}, depth)
		b = append(b, amfNull)
		return append(b, bytes.Repeat([]byte{0, 0, amfObjectEnd}, depth)...)
	}
	for _, c := range []struct {
		name string
		b    []byte
		safe bool
	}{
		{"FFmpeg's connect", amfEncode(t, "connect", 1.0, map[string]any{"app": "stream", "type": "nonprivate", "flashVer": "FMLE/3.0", "tcUrl": "rtmp://h/stream"}), true},
		{"publish", amfEncode(t, "publish", 0.0, nil, "key", "live"), true},
		{"metadata", amfEncode(t, "@setDataFrame", "onMetaData", amf0.ECMAArray{"width": 1280.0, "list": []any{1.0, "a", true}}), true},
		{"cut short", amfEncode(t, "publish", 0.0)[:5], true},
		{"a marker go-amf0 stops at", []byte{0x11, 0xff, 0xff}, true},
		{"nested to the limit", nest(maxAMFDepth), true},
		{"nested past the limit", nest(maxAMFDepth + 1), false},
		{"strict array longer than its bytes", []byte{amfStrictArray, 0, 1, 0, 0, amfNull}, false},
		{"strict array that fits", []byte{amfStrictArray, 0, 0, 0, 2, amfNull, amfNull}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkAMF0(c.b)
			if (err == nil) != c.safe || (err != nil && !errors.Is(err, errAMFUnsafe)) {
				t.Errorf("checkAMF0 = %v, safe %v", err, c.safe)
			}
		})
	}
}

// FuzzCheckAMF0 checks that what checkAMF0 passes, go-amf0 (which go-rtmp
// decodes commands with) decodes without panicking, and within the bounds
// that make it safe: no value nested deeper than we allow.
func FuzzCheckAMF0(f *testing.F) {
	f.Add(amfEncode(f, "connect", 1.0, map[string]any{"app": "stream"}))
	f.Add(amfEncode(f, "@setDataFrame", "onMetaData", amf0.ECMAArray{"a": []any{1.0, amf0.ECMAArray{"b": "c"}}}))
	f.Add([]byte{amfStrictArray, 0, 0, 0, 3, amfNull, amfNumber, 0, 0, 0, 0, 0, 0, 0, 0, amfDate, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{amfTypedObject, 0, 1, 'T', 0, 1, 'x', amfLongString, 0, 0, 0, 1, 'y', 0, 0, amfObjectEnd})
	f.Fuzz(func(t *testing.T, b []byte) {
		if checkAMF0(b) != nil {
			return
		}
		dec := amf0.NewDecoder(bytes.NewReader(b))
		for range len(b) + 1 {
			var v any
			if dec.Decode(&v) != nil {
				return
			}
			if d := amfDepth(v); d > maxAMFDepth+1 {
				t.Fatalf("go-amf0 decoded a value %d deep", d)
			}
		}
	})
}

func amfDepth(v any) int {
	d := 0
	switch v := v.(type) {
	case map[string]any:
		for _, e := range v {
			d = max(d, amfDepth(e))
		}
	case amf0.ECMAArray:
		for _, e := range v {
			d = max(d, amfDepth(e))
		}
	case []any:
		for _, e := range v {
			d = max(d, amfDepth(e))
		}
	default:
		return 0
	}
	return d + 1
}
