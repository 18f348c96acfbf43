package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/livestream/livestream/registry"
)

// destinationVerbs are the commands of `keys destinations` and the
// arguments each takes. Without one, `keys destinations ID` lists.
var destinationVerbs = map[string][]string{
	"list":    {"ID"},
	"add":     {"ID"},
	"enable":  {"ID", "DEST_ID"},
	"disable": {"ID", "DEST_ID"},
	"rm":      {"ID", "DEST_ID"},
}

// maxSecretInput bounds what is read of a key or URL from a file or stdin:
// the registry refuses anything near this long anyway.
const maxSecretInput = 64 << 10

func runDestinations(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && (args[0] == "help" || args[0] == "-h" || args[0] == "--help") {
		fmt.Fprint(stdout, keysUsage)
		return 0
	}
	verb := "list"
	if len(args) > 0 {
		if _, ok := destinationVerbs[args[0]]; ok {
			verb, args = args[0], args[1:]
		}
	}
	want := destinationVerbs[verb]
	fs := flag.NewFlagSet("keys destinations "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f keysFlags
	f.register(fs, verb != "rm")
	var add addFlags
	if verb == "add" {
		add.register(fs)
	}
	fs.Usage = func() {
		v := verb
		if v == "list" {
			v = "[list]"
		}
		fmt.Fprintf(stderr, "Usage: livestream keys destinations %s %s [flags]\n", v, strings.Join(want, " "))
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != len(want) {
		fs.Usage()
		return 2
	}
	fail := func(err error) int {
		fmt.Fprintf(stderr, "livestream: keys destinations %s: %v\n", verb, err)
		return 1
	}
	if err := f.fromEnv(fs); err != nil {
		return fail(err)
	}
	var d registry.Destination
	if verb == "add" {
		// Before opening anything: a missing key is the likeliest mistake.
		if d, err = add.destination(os.Stdin, stderr); err != nil {
			return fail(err)
		}
	}
	ctx, store, done, err := f.open()
	if err != nil {
		return fail(err)
	}
	defer done()

	channelID := pos[0]
	switch verb {
	case "list":
		ds, err := store.Destinations(ctx, channelID)
		if err != nil {
			return fail(err)
		}
		printDestinations(stdout, ds, f.json)
	case "add":
		d, err := store.AddDestination(ctx, channelID, d)
		if err != nil {
			return fail(err)
		}
		printDestination(stdout, d, f.json, "added to "+channelID)
	case "enable", "disable":
		enabled := verb == "enable"
		d, err := store.UpdateDestination(ctx, channelID, pos[1], registry.DestinationUpdate{Enabled: &enabled})
		if err != nil {
			return fail(err)
		}
		printDestination(stdout, d, f.json, verb+"d on "+channelID)
	case "rm":
		if err := store.DeleteDestination(ctx, channelID, pos[1]); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stdout, "removed destination %s from %s\n", pos[1], channelID)
	}
	return 0
}

// addFlags are the flags of `keys destinations add`.
type addFlags struct {
	kind, key, keyFile, url, urlFile string
	disabled                         bool
}

func (a *addFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&a.kind, "kind", "", "`kind` of destination: twitch, youtube, facebook or custom")
	fs.StringVar(&a.key, "key", "", "the platform's stream `key`, or - to read it from stdin (an argument shows in ps: prefer --key-file or -)")
	fs.StringVar(&a.keyFile, "key-file", "", "read the platform's stream key from `file`")
	fs.StringVar(&a.url, "url", "", "custom: the destination's `url`, rtmp[s]://HOST/APP/STREAM_KEY (a secret: prefer --url-file or -);\n"+
		"others: a base URL rtmp[s]://HOST/APP replacing the server's; - reads it from stdin")
	fs.StringVar(&a.urlFile, "url-file", "", "read --url from `file`")
	fs.BoolVar(&a.disabled, "disabled", false, "add the destination disabled")
}

// destination is the destination the flags describe, its key and URL read
// from where they say. stdin is read for a "-", after a prompt on prompt
// if stdin is a terminal.
func (a *addFlags) destination(stdin *os.File, prompt io.Writer) (registry.Destination, error) {
	if a.kind == "" {
		return registry.Destination{}, errors.New("--kind required: twitch, youtube, facebook or custom")
	}
	if a.key == "-" && a.url == "-" {
		return registry.Destination{}, errors.New("only one of --key and --url can be read from stdin")
	}
	key, err := secretInput("key", a.key, a.keyFile, stdin, prompt)
	if err != nil {
		return registry.Destination{}, err
	}
	url, err := secretInput("url", a.url, a.urlFile, stdin, prompt)
	if err != nil {
		return registry.Destination{}, err
	}
	return registry.Destination{Kind: a.kind, Key: key, URL: url, Enabled: !a.disabled}, nil
}

// secretInput returns the value of --name, read from stdin if it is "-",
// or else the content of --name-file; surrounding white space is dropped.
// Its errors never hold what was read.
func secretInput(name, value, file string, stdin *os.File, prompt io.Writer) (string, error) {
	switch {
	case value != "" && file != "":
		return "", fmt.Errorf("give --%s or --%s-file, not both", name, name)
	case file != "":
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--%s-file: %w", name, err)
		}
		defer f.Close()
		data, err := io.ReadAll(io.LimitReader(f, maxSecretInput))
		if err != nil {
			return "", fmt.Errorf("--%s-file: %w", name, err)
		}
		if v := strings.TrimSpace(string(data)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("--%s-file %s is empty", name, file)
	case value == "-":
		if isTerminal(stdin) {
			fmt.Fprintf(prompt, "%s (then Enter): ", name)
		}
		// One line, so that a key typed or pasted at a terminal ends
		// with Enter.
		line, err := bufio.NewReader(io.LimitReader(stdin, maxSecretInput)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("--%s -: read stdin: %w", name, err)
		}
		if v := strings.TrimSpace(line); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("--%s -: nothing on stdin", name)
	}
	return value, nil
}

// printDestinations prints destinations, Redacted, as a table or as JSON.
func printDestinations(w io.Writer, ds []registry.Destination, asJSON bool) {
	redacted := make([]registry.Destination, len(ds)) // [] rather than null
	for i, d := range ds {
		redacted[i] = d.Redacted()
	}
	if asJSON {
		writeJSON(w, redacted)
		return
	}
	if len(ds) == 0 {
		fmt.Fprintln(w, `no destinations; add one with "livestream keys destinations add ID --kind KIND --key-file FILE"`)
		return
	}
	destinationTable(w, redacted)
}

// printDestination prints one destination, Redacted: as JSON, or as what
// happened to it and a table row.
func printDestination(w io.Writer, d registry.Destination, asJSON bool, what string) {
	d = d.Redacted()
	if asJSON {
		writeJSON(w, d)
		return
	}
	fmt.Fprintf(w, "destination %s %s:\n", d.ID, what)
	destinationTable(w, []registry.Destination{d})
}

// destinationTable prints redacted destinations as a table.
func destinationTable(w io.Writer, ds []registry.Destination) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tENABLED\tADDED\tDESTINATION")
	for _, d := range ds {
		enabled := "no"
		if d.Enabled {
			enabled = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, d.Kind, enabled, d.CreatedAt.Local().Format(time.DateTime), describeDestination(d))
	}
	tw.Flush()
}

// describeDestination is where a redacted destination relays to: a
// custom URL, a platform's base URL and key, or the key alone when the
// server's default base URL for the platform is used.
func describeDestination(d registry.Destination) string {
	switch {
	case d.Kind == registry.KindCustom:
		return d.URL
	case d.URL != "":
		return strings.TrimRight(d.URL, "/") + "/" + d.Key
	}
	return "key " + d.Key + " (the server's " + d.Kind + " URL)"
}
