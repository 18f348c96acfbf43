package h264

import "errors"

var (
	// ErrShort is returned when the input ends inside a structure.
	ErrShort = errors.New("h264: input too short")
	// ErrInvalid is returned for fields that contradict the standard.
	ErrInvalid = errors.New("h264: invalid bitstream")
	// ErrTooMany is returned when an access unit has more NAL units than
	// MaxNALUnits.
	ErrTooMany = errors.New("h264: too many NAL units")
)
