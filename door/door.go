// Package door is what ingest's and the proxy's front doors share: the
// share of the address space one host is taken to have, the count of
// open connections per address, a log of refusals that writes one line a
// minute per reason and address, and the reset that refuses a
// connection. A refused connection must cost no goroutine and no line of
// its own: one address reopening connections as fast as they are closed
// must not fill the log or the memory, nor hold every slot.
package door

import (
	"net"
	"net/netip"
	"sync"
	"time"
)

// DefaultMaxConnsPerAddr is the default cap on one address's open
// connections: a publisher needs one, two while it reconnects before its
// old connection times out, and a few publishers may share a NAT.
const DefaultMaxConnsPerAddr = 8

// Prefix is the part of a that one host is taken to have: the address for
// IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6.
func Prefix(a netip.Addr) netip.Prefix {
	a = a.Unmap()
	bits := 32
	if a.Is6() {
		bits = 64
	}
	p, _ := a.Prefix(bits)
	return p
}

// SocketPrefix is the Prefix of a socket's remote address; invalid if it
// is not an IP address.
func SocketPrefix(a net.Addr) netip.Prefix {
	if ta, ok := a.(*net.TCPAddr); ok {
		if ip, ok := netip.AddrFromSlice(ta.IP); ok {
			return Prefix(ip)
		}
	}
	return netip.Prefix{}
}

// PrefixString names p in a log line: the address alone for one IPv4
// host, "other addresses" for the line that addresses past
// MaxRefusalLogAddrs share.
func PrefixString(p netip.Prefix) string {
	switch {
	case !p.IsValid():
		return "other addresses"
	case p.Addr().Is4() && p.Bits() == 32:
		return p.Addr().String()
	}
	return p.String()
}

// Reset closes a refused connection with a TCP reset: a flood of
// connections reopened as fast as they are refused leaves no socket in
// TIME_WAIT, on the server nor on a client on the same machine (tens of
// thousands of them took every free port of the machine).
func Reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	nc.Close()
}

// Conns counts the open connections of each address. Its size is bounded
// by the open connections. It is not safe for concurrent use: its owner's
// lock guards it.
type Conns struct {
	max int // < 0: no cap
	n   map[netip.Prefix]int
}

// NewConns caps each address at max open connections (< 0: no cap).
func NewConns(max int) *Conns {
	return &Conns{max: max, n: map[netip.Prefix]int{}}
}

// Acquire counts one more connection of p, unless p has max already. A
// connection whose address is unknown (p invalid) is not capped.
func (c *Conns) Acquire(p netip.Prefix) bool {
	if !p.IsValid() {
		return true
	}
	if c.max >= 0 && c.n[p] >= c.max {
		return false
	}
	c.n[p]++
	return true
}

// Release gives back one connection of p.
func (c *Conns) Release(p netip.Prefix) {
	if !p.IsValid() {
		return
	}
	if c.n[p] <= 1 {
		delete(c.n, p)
		return
	}
	c.n[p]--
}

// Open is the number of connections p has open.
func (c *Conns) Open(p netip.Prefix) int { return c.n[p] }

// Addrs is the number of addresses with connections open.
func (c *Conns) Addrs() int { return len(c.n) }

const (
	// RefusalLogInterval spaces the lines logged for refusals of one
	// reason from one address: a flood is one line a minute per address,
	// with the count of the refusals since the last.
	RefusalLogInterval = time.Minute
	// MaxRefusalLogAddrs bounds the addresses whose refusals are logged
	// apart; past it, refusals from further addresses share one line per
	// reason a minute.
	MaxRefusalLogAddrs = 1024
)

// RefusalLog says when a refusal is worth a line: the first of a reason
// and address, then the first after RefusalLogInterval, with the count of
// those not logged in between. R is the door's reason type. The zero
// RefusalLog is ready; it is safe for concurrent use.
type RefusalLog[R comparable] struct {
	mu    sync.Mutex
	lines map[refusalKey[R]]refusalLine
}

type refusalKey[R comparable] struct {
	why R
	p   netip.Prefix // invalid: every address past MaxRefusalLogAddrs
}

type refusalLine struct {
	last time.Time
	n    int
}

// Note counts a refusal and reports whether to log it now, and how many
// refusals (this one included) the line stands for.
func (r *RefusalLog[R]) Note(why R, p netip.Prefix, now time.Time) (int, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lines == nil {
		r.lines = map[refusalKey[R]]refusalLine{}
	}
	k := refusalKey[R]{why, p}
	l, ok := r.lines[k]
	if !ok && len(r.lines) >= MaxRefusalLogAddrs {
		for k, l := range r.lines {
			if now.Sub(l.last) >= RefusalLogInterval {
				delete(r.lines, k)
			}
		}
		if len(r.lines) >= MaxRefusalLogAddrs {
			k = refusalKey[R]{why: why}
			l, ok = r.lines[k]
		}
	}
	l.n++
	if ok && now.Sub(l.last) < RefusalLogInterval {
		r.lines[k] = l
		return 0, false
	}
	n := l.n
	r.lines[k] = refusalLine{last: now}
	return n, true
}
