package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/livestream/livestream/pipeline"
	"gopkg.in/yaml.v3"
)

// Config is the file given with --config, YAML or JSON (JSON is YAML).
// Unknown keys are rejected. Zero fields take their defaults.
type Config struct {
	// Transcode is the ladder and encoder settings of every stream.
	Transcode pipeline.Config `yaml:"transcode"`
	// Serve is the all-in-one server's listeners, data directory and logs.
	Serve ServeConfig `yaml:"serve"`
	// Cluster is what the `server` and `origin` roles of a cluster add.
	Cluster ClusterConfig `yaml:"cluster"`
	// HLS is the live HLS format: fMP4 with LL-HLS parts, or MPEG-TS.
	HLS pipeline.HLSConfig `yaml:"hls"`
}

// loadConfig reads path ("" means the embedded defaults), fills defaults and
// validates.
func loadConfig(path string) (Config, error) {
	var c Config
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("read config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
	}
	c.Transcode = c.Transcode.WithDefaults()
	if err := c.Transcode.Validate(); err != nil {
		return c, fmt.Errorf("config %s: transcode: %w", path, err)
	}
	c.HLS = c.HLS.WithDefaults()
	if err := c.HLS.Validate(c.Transcode.SegmentDuration); err != nil {
		return c, fmt.Errorf("config %s: hls: %w", path, err)
	}
	c.Serve = c.Serve.withDefaults()
	if err := c.Serve.validate(); err != nil {
		return c, fmt.Errorf("config %s: serve: %w", path, err)
	}
	c.Cluster = c.Cluster.withDefaults()
	if err := c.Cluster.validate(); err != nil {
		return c, fmt.Errorf("config %s: cluster: %w", path, err)
	}
	return c, nil
}
