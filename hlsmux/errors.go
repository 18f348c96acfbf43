package hlsmux

import "errors"

var (
	// ErrNotFound is returned by Store.Get for a name that holds nothing.
	ErrNotFound = errors.New("hlsmux: not found")
	// ErrBadName is returned for a store name that is empty, absolute or
	// climbs out of the store ("..").
	ErrBadName = errors.New("hlsmux: bad name")
	// ErrClosed is returned when a closed segmenter is written to.
	ErrClosed = errors.New("hlsmux: segmenter closed")
)
