package main

import (
	"flag"
	"fmt"
	"strings"
)

// flagsFromEnv sets every flag not given on the command line from
// LIVESTREAM_<FLAG> (--data-dir from LIVESTREAM_DATA_DIR) when that is set
// and not empty. Errors name the variable but not its value, which may be
// a secret.
func flagsFromEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	set := setFlags(fs)
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		name := "LIVESTREAM_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := lookup(name); ok && v != "" {
			if e := fs.Set(f.Name, v); e != nil {
				err = fmt.Errorf("%s: not a valid value for --%s", name, f.Name)
			}
		}
	})
	return err
}

// setFlags is the set of flags given on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}
