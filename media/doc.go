// Package media holds the pure-Go types every other package shares: encoded
// packets, codec parameters and the 90 kHz clock they are timed in.
//
// It must not import anything outside the standard library, and nothing in it
// may hold a C pointer: packets are Go memory, immutable once sent, and shared
// between readers by pointer.
package media
