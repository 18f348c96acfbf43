package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// byteSize is a size in bytes, written as a number with an optional unit:
// B, KiB, MiB, GiB, TiB (powers of 1024) or KB, MB, GB, TB (powers of
// 1000), as in "512MiB". It is a flag.Value and reads from YAML.
type byteSize int64

// byteUnits are the units byteSize takes, longest first so that "MiB" is
// not read as "B".
var byteUnits = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// parseByteSize reads s ("512MiB", "1GB", "1048576"). The number is a
// whole non-negative decimal; the result must fit an int64.
func parseByteSize(s string) (byteSize, error) {
	num, factor := strings.TrimSpace(s), int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, factor = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num[0] < '0' || num[0] > '9' {
		return 0, fmt.Errorf("size %q: want a whole number of bytes, or one with a unit such as 512MiB", s)
	}
	if n > (1<<63-1)/factor {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return byteSize(n * factor), nil
}

// String writes the size with the largest binary unit that divides it.
func (b byteSize) String() string {
	for i := 3; i >= 0; i-- {
		u := byteUnits[i]
		if b != 0 && int64(b)%u.factor == 0 {
			return strconv.FormatInt(int64(b)/u.factor, 10) + u.suffix
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// Set implements flag.Value.
func (b *byteSize) Set(s string) error {
	v, err := parseByteSize(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// UnmarshalYAML reads a number of bytes or a size with a unit.
func (b *byteSize) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return errors.New("want a size such as 512MiB")
	}
	return b.Set(s)
}
