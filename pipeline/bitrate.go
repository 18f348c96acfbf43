package pipeline

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Bitrate is a rate in bits per second. In a config file it is a number or
// a string with a k or M suffix ("800k", "2.8M").
type Bitrate int

// ParseBitrate parses "800k", "2.8M", "96000".
func ParseBitrate(s string) (Bitrate, error) {
	s = strings.TrimSpace(s)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult, s = 1e3, s[:len(s)-1]
	case strings.HasSuffix(s, "M"), strings.HasSuffix(s, "m"):
		mult, s = 1e6, s[:len(s)-1]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("bitrate %q: want a number of bits per second such as 800k or 2.8M", s)
	}
	return Bitrate(v*mult + 0.5), nil
}

func (b Bitrate) String() string {
	if b%1000 == 0 {
		return strconv.Itoa(int(b)/1000) + "k"
	}
	return strconv.Itoa(int(b))
}

// UnmarshalYAML accepts a number or a suffixed string.
func (b *Bitrate) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseBitrate(n.Value)
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// MarshalYAML writes the suffixed form.
func (b Bitrate) MarshalYAML() (any, error) { return b.String(), nil }

// UnmarshalJSON accepts a number or a suffixed string.
func (b *Bitrate) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		s = string(data)
	}
	v, err := ParseBitrate(s)
	if err != nil {
		return err
	}
	*b = v
	return nil
}
