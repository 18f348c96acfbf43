package proxy

import (
	"encoding/binary"
	"errors"
	"math"
)

// AMF0 markers the proxy reads (AMF0 specification, 2.1).
const (
	amfNumber      = 0x00
	amfBoolean     = 0x01
	amfString      = 0x02
	amfObject      = 0x03
	amfNull        = 0x05
	amfUndefined   = 0x06
	amfECMAArray   = 0x08
	amfObjectEnd   = 0x09
	amfStrictArray = 0x0a
	amfLongString  = 0x0c
)

// maxAMFDepth bounds nested objects: commands nest one or two deep.
const maxAMFDepth = 8

var errAMF = errors.New("malformed AMF0")

// command is what the proxy reads of an RTMP command message: its name and
// transaction id, and the level and code of an onStatus. The publishing
// name (the stream key) is never read: the proxy needs only to know that a
// publish was sent.
type command struct {
	name        string
	tx          float64
	level, code string
	description string
}

// parseCommand reads m as an AMF0 command (or an AMF3 command message,
// whose body is AMF0 after a format byte). ok is false for other messages
// and for bodies it cannot read.
func parseCommand(m message) (cmd command, ok bool) {
	body := m.payload
	switch m.typeID {
	case msgCommandAMF0:
	case msgCommandAMF3:
		if len(body) == 0 {
			return command{}, false
		}
		body = body[1:]
	default:
		return command{}, false
	}
	d := amfReader{b: body}
	name, ok := d.string()
	if !ok {
		return command{}, false
	}
	cmd.name = name
	if cmd.tx, ok = d.number(); !ok {
		return cmd, true // a command without a transaction id: name only
	}
	switch name {
	case "onStatus":
		if !d.skip(0) {
			return cmd, true
		}
		d.properties(func(key string, value string) {
			switch key {
			case "level":
				cmd.level = value
			case "code":
				cmd.code = value
			case "description":
				cmd.description = value
			}
		})
	}
	return cmd, true
}

// amfReader reads AMF0 values from b, never past it and never allocating
// more than it reads.
type amfReader struct{ b []byte }

func (d *amfReader) take(n int) ([]byte, bool) {
	if n < 0 || len(d.b) < n {
		return nil, false
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v, true
}

func (d *amfReader) marker() (byte, bool) {
	b, ok := d.take(1)
	if !ok {
		return 0, false
	}
	return b[0], true
}

// utf8 reads a string of n length bytes (2 or 4), without its marker.
func (d *amfReader) utf8(lenBytes int) (string, bool) {
	l, ok := d.take(lenBytes)
	if !ok {
		return "", false
	}
	n := int(binary.BigEndian.Uint16(l))
	if lenBytes == 4 {
		n = int(binary.BigEndian.Uint32(l) & 0x7fffffff)
	}
	s, ok := d.take(n)
	return string(s), ok
}

func (d *amfReader) string() (string, bool) {
	m, ok := d.marker()
	switch {
	case !ok:
		return "", false
	case m == amfString:
		return d.utf8(2)
	case m == amfLongString:
		return d.utf8(4)
	}
	return "", false
}

func (d *amfReader) number() (float64, bool) {
	if m, ok := d.marker(); !ok || m != amfNumber {
		return 0, false
	}
	b, ok := d.take(8)
	if !ok {
		return 0, false
	}
	return math.Float64frombits(binary.BigEndian.Uint64(b)), true
}

// skip reads past one value of any type the proxy knows.
func (d *amfReader) skip(depth int) bool {
	if depth > maxAMFDepth {
		return false
	}
	m, ok := d.marker()
	if !ok {
		return false
	}
	switch m {
	case amfNumber:
		_, ok = d.take(8)
	case amfBoolean:
		_, ok = d.take(1)
	case amfString:
		_, ok = d.utf8(2)
	case amfLongString:
		_, ok = d.utf8(4)
	case amfNull, amfUndefined:
	case amfObject:
		ok = d.skipProperties(depth)
	case amfECMAArray:
		if _, ok = d.take(4); ok {
			ok = d.skipProperties(depth)
		}
	case amfStrictArray:
		var l []byte
		if l, ok = d.take(4); ok {
			n := binary.BigEndian.Uint32(l)
			// Each element is at least one byte: a count beyond what
			// is left is a lie, caught before looping.
			if uint64(n) > uint64(len(d.b)) {
				return false
			}
			for i := uint32(0); i < n && ok; i++ {
				ok = d.skip(depth + 1)
			}
		}
	default:
		return false
	}
	return ok
}

func (d *amfReader) skipProperties(depth int) bool {
	for {
		key, ok := d.utf8(2)
		if !ok {
			return false
		}
		if key == "" && len(d.b) > 0 && d.b[0] == amfObjectEnd {
			d.b = d.b[1:]
			return true
		}
		if !d.skip(depth + 1) {
			return false
		}
	}
}

// properties reads an object (or ECMA array) and calls f with each of its
// string-valued properties; it stops at the first value it cannot read.
func (d *amfReader) properties(f func(key, value string)) {
	m, ok := d.marker()
	if !ok {
		return
	}
	switch m {
	case amfObject:
	case amfECMAArray:
		if _, ok := d.take(4); !ok {
			return
		}
	default:
		return
	}
	for {
		key, ok := d.utf8(2)
		if !ok {
			return
		}
		if key == "" && len(d.b) > 0 && d.b[0] == amfObjectEnd {
			return
		}
		if len(d.b) > 0 && (d.b[0] == amfString || d.b[0] == amfLongString) {
			v, ok := d.string()
			if !ok {
				return
			}
			f(key, v)
			continue
		}
		if !d.skip(1) {
			return
		}
	}
}
