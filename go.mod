module github.com/livestream/livestream

go 1.26.8

require (
	github.com/asticode/go-astiav v0.16.0
	github.com/asticode/go-astits v1.13.0
	golang.org/x/sync v0.24.0
	gopkg.in/yaml.v3 v3.0.1
)

require github.com/asticode/go-astikit v0.42.0 // indirect
