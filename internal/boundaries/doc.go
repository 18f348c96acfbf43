// Package boundaries holds only a test: the import rules of DESIGN.md,
// checked over `go list -deps -json ./...`.
package boundaries
