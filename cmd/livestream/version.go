package main

import (
	"fmt"
	"io"
	"runtime"

	"github.com/livestream/livestream/codec"
)

func runVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "livestream %s (%s %s/%s)\n%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, codec.Versions())
	return 0
}
