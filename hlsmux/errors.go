package hlsmux

import "errors"

var (
	// ErrNotFound is returned by Store.Get for a name that holds nothing.
	ErrNotFound = errors.New("hlsmux: not found")
	// ErrBadName is returned by the stores for a name that is empty,
	// absolute, climbs out of the store (".."), or is not clean ("a//b").
	ErrBadName = errors.New("hlsmux: bad name")
	// ErrClosed is returned when a closed segmenter is written to.
	ErrClosed = errors.New("hlsmux: segmenter closed")
)
