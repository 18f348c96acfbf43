package h265

import "errors"

var (
	// ErrShort is returned when the input ends inside a structure.
	ErrShort = errors.New("h265: input too short")
	// ErrInvalid is returned for fields that contradict the standard.
	ErrInvalid = errors.New("h265: invalid bitstream")
)
