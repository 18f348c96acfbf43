package proxy

import (
	"encoding/binary"
	"net"
)

// PROXY protocol version 2 (haproxy's proxy-protocol.txt, section 2.2):
// a 12-byte signature, a version/command byte, a family/transport byte, a
// 16-bit big-endian length of what follows, then the addresses.
var proxySignature = [12]byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}

const (
	proxyV2Local = 0x20 // version 2, command LOCAL: no address follows
	proxyV2Proxy = 0x21 // version 2, command PROXY
	proxyUnspec  = 0x00 // AF_UNSPEC, UNSPEC transport
	proxyTCP4    = 0x11 // AF_INET, STREAM
	proxyTCP6    = 0x21 // AF_INET6, STREAM
	proxyLenTCP4 = 12   // 4+4 address bytes, 2+2 port bytes
	proxyLenTCP6 = 36   // 16+16 address bytes, 2+2 port bytes
)

// AppendHeader appends to b the PROXY protocol v2 header a server reads
// first to learn that the connection it accepted comes from src, which
// connected to dst. TCP addresses give a PROXY command over TCP4, or over
// TCP6 when either is IPv6 (an IPv4 one is then written IPv4-mapped);
// other addresses give a LOCAL command, which tells the server to use the
// connection's own addresses.
func AppendHeader(b []byte, src, dst net.Addr) []byte {
	b = append(b, proxySignature[:]...)
	s, ok1 := src.(*net.TCPAddr)
	d, ok2 := dst.(*net.TCPAddr)
	if !ok1 || !ok2 || s == nil || d == nil {
		return append(b, proxyV2Local, proxyUnspec, 0, 0)
	}
	s4, d4 := s.IP.To4(), d.IP.To4()
	if s4 != nil && d4 != nil {
		b = append(b, proxyV2Proxy, proxyTCP4)
		b = binary.BigEndian.AppendUint16(b, proxyLenTCP4)
		b = append(b, s4...)
		b = append(b, d4...)
	} else {
		s16, d16 := s.IP.To16(), d.IP.To16()
		if s16 == nil || d16 == nil {
			return append(b, proxyV2Local, proxyUnspec, 0, 0)
		}
		b = append(b, proxyV2Proxy, proxyTCP6)
		b = binary.BigEndian.AppendUint16(b, proxyLenTCP6)
		b = append(b, s16...)
		b = append(b, d16...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(s.Port))
	return binary.BigEndian.AppendUint16(b, uint16(d.Port))
}
