package hlsmux

import (
	"testing"
)

// The tests read segments with this small parser of their own rather than
// with astits, so that they check the bytes and not astits against itself.

// tsPacket is one 188-byte TS packet.
type tsPacket struct {
	pid        uint16
	pusi       bool
	cc         uint8
	hasPayload bool
	rai        bool
	pcr        int64 // -1: none
	payload    []byte
}

// tsPES is one reassembled PES.
type tsPES struct {
	pid      uint16
	streamID byte
	length   int // PES_packet_length
	pts, dts int64
	hasDTS   bool
	rai      bool
	pcr      int64 // in its first TS packet; -1: none
	index    int   // index of its first TS packet in the segment
	data     []byte
}

func parseTSPackets(t *testing.T, data []byte) []tsPacket {
	t.Helper()
	if len(data) == 0 || len(data)%188 != 0 {
		t.Fatalf("segment of %d bytes is not whole TS packets", len(data))
	}
	var out []tsPacket
	for off := 0; off < len(data); off += 188 {
		b := data[off : off+188]
		if b[0] != 0x47 {
			t.Fatalf("no sync byte at offset %d", off)
		}
		p := tsPacket{
			pid:        uint16(b[1]&0x1f)<<8 | uint16(b[2]),
			pusi:       b[1]&0x40 != 0,
			cc:         b[3] & 0xf,
			hasPayload: b[3]&0x10 != 0,
			pcr:        -1,
		}
		i := 4
		if b[3]&0x20 != 0 { // adaptation field
			n := int(b[4])
			if n > 0 {
				flags := b[5]
				p.rai = flags&0x40 != 0
				if flags&0x10 != 0 {
					p.pcr = int64(b[6])<<25 | int64(b[7])<<17 | int64(b[8])<<9 | int64(b[9])<<1 | int64(b[10])>>7
				}
			}
			i += 1 + n
		}
		if p.hasPayload {
			p.payload = b[i:]
		}
		out = append(out, p)
	}
	return out
}

func parseTimestamp(b []byte) int64 {
	return int64(b[0]>>1&7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// parsePES reassembles the PESs of the elementary stream PIDs in the order
// they start.
func parsePES(t *testing.T, pkts []tsPacket) []*tsPES {
	t.Helper()
	var out []*tsPES
	open := map[uint16]*tsPES{}
	for i, p := range pkts {
		if p.pid != pidVideo && p.pid != pidAudio {
			continue
		}
		if p.pusi {
			b := p.payload
			if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
				t.Fatalf("packet %d: PES without a start code", i)
			}
			e := &tsPES{pid: p.pid, streamID: b[3], length: int(b[4])<<8 | int(b[5]), rai: p.rai, pcr: p.pcr, index: i}
			flags, hlen := b[7], int(b[8])
			if flags&0x80 != 0 {
				e.pts = parseTimestamp(b[9:])
			}
			if flags&0x40 != 0 {
				e.hasDTS = true
				e.dts = parseTimestamp(b[14:])
			} else {
				e.dts = e.pts
			}
			e.data = append(e.data, b[9+hlen:]...)
			open[p.pid] = e
			out = append(out, e)
			continue
		}
		e := open[p.pid]
		if e == nil {
			t.Fatalf("packet %d: PID %#x continues a PES that did not start", i, p.pid)
		}
		if p.pcr >= 0 {
			t.Errorf("packet %d: PCR outside the first packet of a PES", i)
		}
		e.data = append(e.data, p.payload...)
	}
	for _, e := range out {
		if e.length != 0 && e.length != len(e.data)+3+headerDataLen(e) {
			t.Errorf("PES at packet %d: PES_packet_length %d for %d bytes", e.index, e.length, len(e.data))
		}
	}
	return out
}

func headerDataLen(e *tsPES) int {
	if e.hasDTS {
		return 10
	}
	return 5
}

// checkContinuity checks that each PID's continuity counter goes up by one
// per packet with a payload, across every segment given in order.
func checkContinuity(t *testing.T, segments ...[]tsPacket) {
	t.Helper()
	last := map[uint16]uint8{}
	for si, pkts := range segments {
		for i, p := range pkts {
			if !p.hasPayload {
				continue
			}
			if l, ok := last[p.pid]; ok && p.cc != (l+1)&0xf {
				t.Errorf("segment %d packet %d: PID %#x continuity counter %d after %d", si, i, p.pid, p.cc, l)
			}
			last[p.pid] = p.cc
		}
	}
}
