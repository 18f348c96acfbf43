package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// AMF0 (Adobe's Action Message Format, version 0) markers.
const (
	amfNumber      = 0x00
	amfBoolean     = 0x01
	amfString      = 0x02
	amfObject      = 0x03
	amfNull        = 0x05
	amfUndefined   = 0x06
	amfReference   = 0x07
	amfECMAArray   = 0x08
	amfObjectEnd   = 0x09
	amfStrictArray = 0x0a
	amfDate        = 0x0b
	amfLongString  = 0x0c
	amfUnsupported = 0x0d
	amfXMLDocument = 0x0f
	amfTypedObject = 0x10
)

// maxAMFDepth bounds the nesting of AMF0 values from a peer. go-amf0
// recurses once per level, with no limit of its own; real commands and
// metadata nest two or three levels.
const maxAMFDepth = 16

var (
	// errAMFUnsafe: a value go-amf0 must not be given (too deep, or an
	// array longer than the bytes left, which it would allocate first).
	errAMFUnsafe = errors.New("unsafe AMF0 value")
	// errAMFEnd: the bytes end inside a value, or hold a marker we do not
	// read. go-amf0 stops at the same point with an error of its own.
	errAMFEnd = errors.New("AMF0 value cut short or unreadable")
)

// checkAMF0 walks the AMF0 values of a command or data message body and
// fails with errAMFUnsafe if go-amf0 could be made to recurse too deep or
// allocate far more than the body's size. Values cut short or with markers
// go-amf0 refuses are not unsafe: it stops there with an error, and so do we.
func checkAMF0(b []byte) error {
	for len(b) > 0 {
		var err error
		if b, err = walkAMF0(b, 0, true); err != nil {
			if errors.Is(err, errAMFUnsafe) {
				return err
			}
			return nil
		}
	}
	return nil
}

// skipAMF0 returns what follows the AMF0 value at the start of b.
func skipAMF0(b []byte, depth int) ([]byte, error) { return walkAMF0(b, depth, false) }

// walkAMF0 is skipAMF0; forGoAMF0 also refuses what go-amf0, which go-rtmp
// decodes every command and data message with, cannot decode safely.
func walkAMF0(b []byte, depth int, forGoAMF0 bool) ([]byte, error) {
	if depth > maxAMFDepth {
		return nil, fmt.Errorf("AMF0 values nested over %d deep: %w", maxAMFDepth, errAMFUnsafe)
	}
	if len(b) == 0 {
		return nil, errAMFEnd
	}
	marker, b := b[0], b[1:]
	switch marker {
	case amfNumber:
		return skipN(b, 8)
	case amfBoolean:
		return skipN(b, 1)
	case amfString:
		_, rest, err := amfUTF8(b)
		return rest, err
	case amfNull, amfUndefined, amfUnsupported:
		return b, nil
	case amfReference:
		return skipN(b, 2)
	case amfObject:
		return skipProperties(b, depth, forGoAMF0)
	case amfTypedObject:
		_, rest, err := amfUTF8(b) // class name
		if err != nil {
			return nil, err
		}
		return skipProperties(rest, depth, forGoAMF0)
	case amfECMAArray:
		// go-amf0 v0.1.0 panics on an ECMA array inside another value once
		// a sibling property has been decoded (it reuses the sibling's
		// reflect.Value and asks an interface type for its Elem). Metadata
		// is one flat ECMA array: refuse the nested ones.
		if forGoAMF0 && depth > 0 {
			return nil, fmt.Errorf("AMF0 ECMA array nested in another value: %w", errAMFUnsafe)
		}
		if len(b) < 4 {
			return nil, errAMFEnd
		}
		return skipProperties(b[4:], depth, forGoAMF0) // the count is a hint; the end marker ends it
	case amfStrictArray:
		if len(b) < 4 {
			return nil, errAMFEnd
		}
		n := binary.BigEndian.Uint32(b)
		b = b[4:]
		if int64(n) > int64(len(b)) { // every value takes at least its marker
			return nil, fmt.Errorf("AMF0 strict array of %d values in %d bytes: %w", n, len(b), errAMFUnsafe)
		}
		for range n {
			var err error
			if b, err = walkAMF0(b, depth+1, forGoAMF0); err != nil {
				return nil, err
			}
		}
		return b, nil
	case amfDate:
		return skipN(b, 10)
	case amfLongString, amfXMLDocument:
		if len(b) < 4 {
			return nil, errAMFEnd
		}
		return skipN(b[4:], int(binary.BigEndian.Uint32(b)))
	}
	return nil, errAMFEnd // movieclip, recordset, AMF3 switch, object end out of place
}

// skipProperties skips an object's key/value pairs and its end marker.
func skipProperties(b []byte, depth int, forGoAMF0 bool) ([]byte, error) {
	for {
		key, rest, err := amfUTF8(b)
		if err != nil {
			return nil, err
		}
		if key == "" {
			if len(rest) == 0 || rest[0] != amfObjectEnd {
				return nil, errAMFEnd
			}
			return rest[1:], nil
		}
		if b, err = walkAMF0(rest, depth+1, forGoAMF0); err != nil {
			return nil, err
		}
	}
}

// amfUTF8 reads a 16-bit-length-prefixed string (without marker).
func amfUTF8(b []byte) (string, []byte, error) {
	if len(b) < 2 {
		return "", nil, errAMFEnd
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return "", nil, errAMFEnd
	}
	return string(b[2 : 2+n]), b[2+n:], nil
}

func skipN(b []byte, n int) ([]byte, error) {
	if n < 0 || len(b) < n {
		return nil, errAMFEnd
	}
	return b[n:], nil
}

// amfValue is a scalar property of onMetaData; nested values are skipped.
type amfValue struct {
	marker byte
	num    float64
	str    string
	flag   bool
}

// readAMF0Scalar reads the value at the start of b when it is a number,
// boolean or string, and skips it otherwise (ok false).
func readAMF0Scalar(b []byte, depth int) (v amfValue, rest []byte, ok bool, err error) {
	if len(b) == 0 {
		return v, nil, false, errAMFEnd
	}
	v.marker = b[0]
	switch b[0] {
	case amfNumber:
		if len(b) < 9 {
			return v, nil, false, errAMFEnd
		}
		v.num = math.Float64frombits(binary.BigEndian.Uint64(b[1:]))
		return v, b[9:], true, nil
	case amfBoolean:
		if len(b) < 2 {
			return v, nil, false, errAMFEnd
		}
		v.flag = b[1] != 0
		return v, b[2:], true, nil
	case amfString:
		v.str, rest, err = amfUTF8(b[1:])
		return v, rest, err == nil, err
	}
	rest, err = skipAMF0(b, depth)
	return v, rest, false, err
}
