package origin

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// The watch page's assets. hls.min.js is hls.js as published on npm (see
// static/README.md for its version and licence), never fetched at run time.
//
//go:embed static/hls.min.js static/watch.js static/watch.css
var staticFiles embed.FS

// asset is one embedded file, served under a name that holds its hash.
type asset struct {
	data        []byte
	contentType string
	etag        string
}

// assetTypes are the content types of the assets by extension; fixed here
// rather than read from the system's mime.types, which differ by machine.
var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
}

// assetHashLen is how many hex digits of its SHA-256 an asset's name holds:
// enough that a new version never gets an old name.
const assetHashLen = 12

// assets maps served names ("watch.0123456789ab.js") to files, and
// assetName each file's name ("watch.js") to the name it is served under.
var assets, assetName = loadAssets()

// loadAssets names each embedded file after its content's hash, so that
// the names can be cached forever: a new build that changes a file changes
// its name, and pages name the current one.
func loadAssets() (map[string]asset, map[string]string) {
	served, names := map[string]asset{}, map[string]string{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		base := path.Base(p)
		ext := path.Ext(base)
		hash := hex.EncodeToString(sum[:])[:assetHashLen]
		name := strings.TrimSuffix(base, ext) + "." + hash + ext
		served[name] = asset{data: data, contentType: assetTypes[ext], etag: `"` + hash + `"`}
		names[base] = name
		return nil
	})
	if err != nil {
		panic("origin: read embedded assets: " + err.Error()) // embed.FS cannot fail
	}
	return served, names
}

// serveAsset answers an embedded asset by its hashed name, cached for a
// year: the name changes whenever the content does.
func serveAsset(w http.ResponseWriter, r *http.Request) {
	a, ok := assets[r.PathValue("asset")]
	if !ok {
		notFound(w)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", a.contentType)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	hd.Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}
