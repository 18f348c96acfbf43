package aac

import "errors"

var (
	// ErrShort is returned when the input ends inside a header or frame.
	ErrShort = errors.New("aac: input too short")
	// ErrSyncword is returned when an ADTS header does not start with 0xFFF.
	ErrSyncword = errors.New("aac: no ADTS syncword")
	// ErrUnsupported is returned for configurations ADTS cannot carry or
	// this package does not handle (sample rates without an index, more
	// than 7 channels, object types above 4 in ADTS).
	ErrUnsupported = errors.New("aac: unsupported configuration")
	// ErrInvalid is returned for headers whose fields contradict themselves.
	ErrInvalid = errors.New("aac: invalid header")
)
