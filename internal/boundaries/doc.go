// Package boundaries holds only a test: the import rules of DESIGN.md's
// package table, checked over `go list -deps -json ./...` from the module
// root. Adding a package means adding its row here as well as there.
package boundaries
