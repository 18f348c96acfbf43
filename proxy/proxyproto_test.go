package proxy

import (
	"bytes"
	"net"
	"testing"
)

func TestAppendHeader(t *testing.T) {
	sig := []byte{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	tcp := func(ip string, port int) net.Addr { return &net.TCPAddr{IP: net.ParseIP(ip), Port: port} }
	tests := []struct {
		name     string
		src, dst net.Addr
		want     []byte
	}{{
		name: "tcp4",
		src:  tcp("192.0.2.10", 51234), dst: tcp("198.51.100.1", 1935),
		want: cat(sig, []byte{0x21, 0x11, 0x00, 0x0C,
			192, 0, 2, 10, 198, 51, 100, 1,
			0xC8, 0x22, // 51234
			0x07, 0x8F}), // 1935
	}, {
		name: "tcp6",
		src:  tcp("2001:db8::1", 1), dst: tcp("2001:db8::2", 65535),
		want: cat(sig, []byte{0x21, 0x21, 0x00, 0x24},
			net.ParseIP("2001:db8::1").To16(), net.ParseIP("2001:db8::2").To16(),
			[]byte{0x00, 0x01, 0xFF, 0xFF}),
	}, {
		name: "mixed families are written as IPv6",
		src:  tcp("192.0.2.10", 1000), dst: tcp("2001:db8::2", 1935),
		want: cat(sig, []byte{0x21, 0x21, 0x00, 0x24},
			[]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 10}, net.ParseIP("2001:db8::2").To16(),
			[]byte{0x03, 0xE8, 0x07, 0x8F}),
	}, {
		name: "not TCP: LOCAL",
		src:  &net.UnixAddr{Name: "@a", Net: "unix"}, dst: tcp("127.0.0.1", 1935),
		want: cat(sig, []byte{0x20, 0x00, 0x00, 0x00}),
	}, {
		name: "nil: LOCAL",
		src:  nil, dst: nil,
		want: cat(sig, []byte{0x20, 0x00, 0x00, 0x00}),
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := AppendHeader([]byte("x"), tt.src, tt.dst)
			if !bytes.Equal(got, append([]byte("x"), tt.want...)) {
				t.Errorf("AppendHeader:\n got % x\nwant x % x", got, tt.want)
			}
			// The length field is what follows it.
			if h := got[1:]; len(h) != 16+int(h[14])<<8+int(h[15]) {
				t.Errorf("length field %d, but %d bytes follow", int(h[14])<<8+int(h[15]), len(h)-16)
			}
		})
	}
}
