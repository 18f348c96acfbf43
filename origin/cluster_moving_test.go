package origin

import (
	"testing"
	"time"
)

func TestLiveStreamsMoving(t *testing.T) {
	var l liveStreams
	now := time.Now()
	l.saw("a", []byte("#EXTM3U\n#EXTINF:1.000,\n1.ts\n"), now)
	l.saw("b", []byte("#EXTM3U\n#EXTINF:1.000,\n1.ts\n"), now)
	l.saw("b", []byte("#EXTM3U\n#EXTINF:1.000,\n1.ts\n#EXT-X-ENDLIST\n"), now)
	switch {
	case !l.moving("a", now.Add(movingGrace)):
		t.Error("a live stream without a route is not moving within the grace")
	case l.moving("a", now.Add(movingGrace+time.Second)):
		t.Error("a stream is moving after the grace")
	case l.moving("b", now):
		t.Error("an ended stream is moving")
	case l.moving("c", now):
		t.Error("a stream never seen is moving")
	}
	// Old entries go.
	l.saw("d", []byte("#EXTM3U\n"), now.Add(2*movingGrace))
	if _, ok := l.at["a"]; ok {
		t.Error("a stream last live long ago is still remembered")
	}
}
