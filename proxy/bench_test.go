package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/livestream/livestream/registry"
)

// peerEnv makes the test binary run benchPeer instead of the tests: the
// sender and the server of the splice benchmark live in another process,
// so that getrusage of ours counts the proxy alone.
const peerEnv = "LIVESTREAM_PROXY_BENCH_PEER"

func TestMain(m *testing.M) {
	if os.Getenv(peerEnv) == "1" {
		if err := benchPeer(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "bench peer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// benchPeer listens as a server that discards what it reads and prints its
// address; then it reads the proxy's address, connects to it, and for each
// line "N" sends N bytes and prints "ok" once the server has read them.
func benchPeer(stdin io.Reader, stdout io.Writer) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer l.Close()
	received := make(chan int64, 64)
	go func() {
		defer close(received)
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		br, err := serveFakeRTMP(c)
		if err != nil {
			return
		}
		buf := make([]byte, 256<<10)
		for {
			n, err := br.Read(buf)
			if n > 0 {
				received <- int64(n)
			}
			if err != nil {
				return
			}
		}
	}()
	fmt.Fprintln(stdout, l.Addr())
	in := bufio.NewScanner(stdin)
	if !in.Scan() {
		return fmt.Errorf("read the proxy's address: %v", in.Err())
	}
	c, err := net.Dial("tcp", in.Text())
	if err != nil {
		return err
	}
	defer c.Close()
	if err := publishFake(c, "sk_bench"); err != nil {
		return err
	}
	chunk := make([]byte, 1<<20)
	for in.Scan() {
		n, err := strconv.ParseInt(in.Text(), 10, 64)
		if err != nil {
			return err
		}
		// Send while the server's reads are counted: each side needs
		// the other going.
		c.SetDeadline(time.Now().Add(time.Minute))
		sent := make(chan error, 1)
		go func() {
			for left := n; left > 0; {
				k, err := c.Write(chunk[:min(left, int64(len(chunk)))])
				if err != nil {
					sent <- err
					return
				}
				left -= int64(k)
			}
			sent <- nil
		}()
		for got := int64(0); got < n; {
			k, ok := <-received
			if !ok {
				return fmt.Errorf("server's connection ended after %d of %d bytes", got, n)
			}
			got += k
		}
		if err := <-sent; err != nil {
			return err
		}
		fmt.Fprintln(stdout, "ok")
	}
	return nil
}

// BenchmarkSplice pushes bytes from a publisher through the proxy to a
// server, both in another process, over loopback. It reports the proxy's
// own CPU (user+system, getrusage) per relayed megabit, and the megabits
// one core of the proxy carries.
func BenchmarkSplice(b *testing.B) {
	const perOp = 8 << 20
	peer := exec.Command(os.Args[0], "-test.run=^$")
	peer.Env = append(os.Environ(), peerEnv+"=1")
	peer.Stderr = os.Stderr
	stdin, err := peer.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := peer.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := peer.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close() // the peer then closes its connections and exits
		peer.Wait()
	}()
	out := bufio.NewScanner(stdout)
	if !out.Scan() {
		b.Fatal("bench peer printed no address")
	}
	server := out.Text()

	p := New(Config{Servers: fixedServers(registry.ServerInfo{ID: "bench", RTMPAddr: server}), Logger: slog.New(slog.DiscardHandler)})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(l)
	defer func() {
		stdin.Close() // the peer closes its connection: the proxy drains
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			b.Errorf("Shutdown: %v", err)
		}
	}()
	fmt.Fprintln(stdin, l.Addr())

	b.ReportAllocs()
	b.SetBytes(perOp)
	cpu0 := cpuTime()
	start := time.Now()
	for b.Loop() {
		fmt.Fprintln(stdin, perOp)
		if !out.Scan() || out.Text() != "ok" {
			b.Fatalf("bench peer: %q, %v", out.Text(), out.Err())
		}
	}
	cpu, wall := (cpuTime() - cpu0).Seconds(), time.Since(start).Seconds()
	mbit := float64(p.Stats().BytesIn) * 8 / 1e6
	if mbit == 0 {
		b.Fatal("no byte went through the proxy")
	}
	b.ReportMetric(cpu/mbit*1e6, "cpu-µs/Mbit")
	b.ReportMetric(mbit/cpu, "Mbit/s/core")
	b.ReportMetric(cpu/wall, "cores")
}

// cpuTime is this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkConnect measures the latency a proxy adds to a publish: from
// the publisher's dial to its publish accepted, straight to the server and
// through the proxy, side by side (sub-benchmarks), with the server list
// already in hand (a Redis round trip comes on top). The proxy's
// difference is its handshake with the publisher, then its own with the
// server, in series with the publisher's commands.
func BenchmarkConnect(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if br, err := serveFakeRTMP(c); err == nil {
					io.Copy(io.Discard, br)
				}
			}()
		}
	}()
	p := New(Config{Servers: fixedServers(registry.ServerInfo{ID: "bench", RTMPAddr: l.Addr().String()}), Logger: slog.New(slog.DiscardHandler)})
	pl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go p.Serve(pl)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			b.Errorf("Shutdown: %v", err)
		}
	}()
	for _, target := range []struct{ name, addr string }{{"direct", l.Addr().String()}, {"proxy", pl.Addr().String()}} {
		b.Run(target.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c, err := net.Dial("tcp", target.addr)
				if err != nil {
					b.Fatal(err)
				}
				if err := publishFake(c, "sk_bench"); err != nil {
					b.Fatal(err)
				}
				c.Close()
			}
		})
	}
}
