// The watch page's player. It plays #player's data-src (the master
// playlist) with hls.js, or natively where the browser plays HLS itself
// (Safari on iOS) and hls.js cannot, and keeps #player's data-state:
//
//   loading  checking whether the stream is live, or starting it
//   offline  not live (the master is 404); checked again every data-retry-ms
//   playing  video is playing
//   ended    the stream ended (its playlists have EXT-X-ENDLIST) and
//            playback reached its end; checked again every data-retry-ms
//   error    a fatal error; data-error names it, and the page starts over
//            after data-retry-ms
//
// Creators reconnect all the time (a network blip, an encoder restart), so
// an offline or ended page keeps checking and plays the stream again as
// soon as it is back, without a reload. It checks only while the tab is
// visible: a tab in the background costs the server nothing, and checks
// at once when it comes back.
//
// hls.js plays in its low-latency mode: on a Low-Latency HLS playlist
// (EXT-X-PART, EXT-X-SERVER-CONTROL) it loads parts and reloads the
// playlist by blocking requests, and holds PART-HOLD-BACK behind the live
// edge; on a plain one it holds three target durations as before.
//
// A stats overlay (the Stats button, or the S key; off by default) shows
// the latency, buffer, rendition and stalls. window.__livestream gives the
// same numbers to scripts (the browser tests): stats() returns a snapshot,
// setLevel() switches rendition as the quality menu does.
(function () {
  'use strict';

  var player = document.getElementById('player');
  var video = document.getElementById('video');
  var statusText = document.getElementById('status');
  var quality = document.getElementById('quality');
  var qualityLabel = document.getElementById('quality-label');
  var statsPanel = document.getElementById('stats');
  var statsToggle = document.getElementById('stats-toggle');
  var src = new URL(player.dataset.src, location.href).href;
  var retryMs = Number(player.dataset.retryMs) || 3000;

  var hls = null;
  var mediaRecovered = false;
  // timer is the pending check; waiting is true from retryLater until that
  // check starts, also while the tab is hidden and no timer runs.
  var timer = 0;
  var waiting = false;
  var checking = false;

  // counts are what happened to playback since the page loaded, across
  // every start: a reader compares two snapshots. A stall is a 'waiting'
  // event of the video after it started playing, other than one of a seek;
  // an empty stall one with nothing buffered ahead (the media did not come
  // in time), where the others are the decoder's (a busy machine, a new
  // rendition's decoder starting). stalledMs sums the time from each stall
  // to the next 'playing'.
  var counts = { starts: 0, stalls: 0, emptyStalls: 0, bufferStalls: 0, switches: 0, fatalErrors: 0, stalledMs: 0 };
  var stalledSince = 0; // Date.now() of the stall going on, or 0
  // switchedTo is the levels of the last LEVEL_SWITCHED events, oldest first.
  var switchedTo = [];
  var maxSwitchedTo = 32;
  // playedOnce is whether the video played since the last start: its
  // 'waiting' before that is start-up, not a stall.
  var playedOnce = false;

  var messages = {
    loading: 'Connecting…',
    offline: 'Offline. The stream starts here as soon as it is live.',
    playing: 'Live',
    ended: 'The stream has ended. It plays here again if it comes back.',
    error: 'Playback failed; trying again.'
  };

  function setState(state, detail) {
    player.dataset.state = state;
    statusText.textContent = messages[state] + (detail ? ' (' + detail + ')' : '');
  }

  // retryLater checks again after about retryMs. The jitter (±25%) spreads
  // the checks of every viewer whose stream ended at the same moment, so
  // they do not all arrive at the origin together for as long as the
  // stream is away.
  function retryLater() {
    clearTimeout(timer);
    timer = 0;
    waiting = true;
    if (document.visibilityState === 'hidden') {
      return; // visibilitychange checks when the tab is shown again
    }
    timer = setTimeout(check, retryMs * (0.75 + Math.random() * 0.5));
  }

  document.addEventListener('visibilitychange', function () {
    if (!waiting) {
      return;
    }
    clearTimeout(timer);
    timer = 0;
    if (document.visibilityState !== 'hidden') {
      check();
    }
  });

  function fetchText(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.ok ? r.text() : null;
    });
  }

  // firstVariant returns the URL of the first rendition a master playlist
  // lists, or '' if it lists none.
  function firstVariant(master) {
    var lines = master.split(/\r?\n/);
    for (var i = 0; i < lines.length; i++) {
      if (lines[i].indexOf('#EXT-X-STREAM-INF:') !== 0) {
        continue;
      }
      for (var j = i + 1; j < lines.length; j++) {
        var uri = lines[j].trim();
        if (uri !== '' && uri.charAt(0) !== '#') {
          return new URL(uri, src).href;
        }
      }
    }
    return '';
  }

  // probe resolves to 'live', 'ended' or 'offline'. The master alone does
  // not tell: an ended stream's playlists stay (with EXT-X-ENDLIST) for a
  // grace period after it ends, and a stream that comes back replaces them
  // with live ones. So probe reads the first rendition's playlist too.
  function probe() {
    return fetchText(src).then(function (master) {
      var variant = master === null ? '' : firstVariant(master);
      if (variant === '') {
        return 'offline';
      }
      return fetchText(variant).then(function (media) {
        if (media === null) {
          return 'offline';
        }
        return /^#EXT-X-ENDLIST\s*$/m.test(media) ? 'ended' : 'live';
      });
    });
  }

  // check starts playing if the stream is live, and otherwise says why not
  // and checks again later. Once the page showed "ended", a stream that is
  // merely gone (its grace period over) still reads "ended".
  function check() {
    if (checking) {
      return;
    }
    checking = true;
    waiting = false;
    clearTimeout(timer);
    timer = 0;
    probe().then(function (s) {
      checking = false;
      if (s === 'live') {
        start();
        return;
      }
      if (s === 'ended' || player.dataset.state === 'ended') {
        setState('ended');
      } else {
        setState('offline');
      }
      retryLater();
    }, function () {
      checking = false;
      setState(player.dataset.state === 'ended' ? 'ended' : 'offline', 'server unreachable');
      retryLater();
    });
  }

  function start() {
    setState('loading');
    counts.starts++;
    playedOnce = false;
    stalledSince = 0;
    delete player.dataset.error;
    if (window.Hls && window.Hls.isSupported()) {
      startHls();
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      startNative();
    } else {
      setState('error', 'this browser cannot play HLS');
    }
  }

  function startHls() {
    var Hls = window.Hls;
    mediaRecovered = false;
    hls = new Hls({
      // Parts and blocking reload where the playlist offers them. The
      // target latency is the playlist's: PART-HOLD-BACK when it has
      // parts, else HOLD-BACK or three target durations. Setting
      // liveSyncDuration or liveSyncDurationCount would override it.
      lowLatencyMode: true,
      // Behind the target, play up to 1.25x until back on it: unlike a
      // seek, catching up this way never empties the buffer.
      maxLiveSyncPlaybackRate: 1.25,
      // A live stream's played media is not watched again: keep 30 s
      // for short seeks back and free the rest (the default keeps it all).
      backBufferLength: 30
    });
    hls.on(Hls.Events.MANIFEST_PARSED, function (_, data) {
      showLevels(data.levels);
      play();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (_, data) {
      counts.switches++;
      switchedTo.push(data.level);
      if (switchedTo.length > maxSwitchedTo) {
        switchedTo.shift();
      }
      var l = hls.levels[data.level];
      quality.options[0].textContent = hls.autoLevelEnabled && l ? 'Auto (' + levelName(l) + ')' : 'Auto';
    });
    hls.on(Hls.Events.ERROR, function (_, data) {
      if (data.details === Hls.ErrorDetails.BUFFER_STALLED_ERROR) {
        counts.bufferStalls++;
      }
      if (!data.fatal) {
        return; // hls.js retries these itself
      }
      counts.fatalErrors++;
      player.dataset.error = data.type + ': ' + data.details;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !mediaRecovered) {
        mediaRecovered = true;
        hls.recoverMediaError();
        return;
      }
      stop();
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        // Most likely the stream is gone mid-play (its playlist is 404):
        // offline, or already live again.
        check();
      } else {
        setState('error', data.details);
        retryLater();
      }
    });
    hls.loadSource(src);
    hls.attachMedia(video);
  }

  function startNative() {
    qualityLabel.hidden = true; // the browser picks the rendition
    video.onerror = function () {
      player.dataset.error = 'native: ' + (video.error ? video.error.code : '?');
      stop();
      check();
    };
    video.src = src;
    play();
  }

  function stop() {
    if (hls) {
      hls.destroy();
      hls = null;
    }
    video.onerror = null;
    video.removeAttribute('src');
    video.load();
    quality.length = 1;
    quality.disabled = true;
    quality.options[0].textContent = 'Auto';
  }

  function play() {
    var p = video.play();
    if (p && p.catch) {
      p.catch(function () {
        statusText.textContent = 'Live. Press play to watch.';
      });
    }
  }

  function levelName(l) {
    var kbps = Math.round(l.bitrate / 1000);
    return l.height ? l.height + 'p' : kbps + ' kb/s';
  }

  // showLevels lists the renditions, best first, after Auto.
  function showLevels(levels) {
    quality.length = 1;
    for (var i = levels.length - 1; i >= 0; i--) {
      var o = document.createElement('option');
      o.value = String(i);
      o.textContent = levelName(levels[i]);
      quality.appendChild(o);
    }
    quality.value = '-1';
    quality.disabled = levels.length < 2;
  }

  quality.addEventListener('change', function () {
    if (hls) {
      hls.currentLevel = Number(quality.value); // -1: automatic
    }
  });
  video.addEventListener('playing', function () {
    playedOnce = true;
    if (stalledSince) {
      counts.stalledMs += Date.now() - stalledSince;
      stalledSince = 0;
    }
    setState('playing');
  });
  video.addEventListener('waiting', function () {
    if (playedOnce && !video.seeking) {
      counts.stalls++;
      if (bufferAhead() < 0.1) {
        counts.emptyStalls++;
      }
      stalledSince = stalledSince || Date.now();
    }
  });
  video.addEventListener('ended', function () {
    // Only a playlist with EXT-X-ENDLIST lets a video end: a live one
    // waits for more segments.
    stop();
    setState('ended');
    retryLater();
  });

  // bufferAhead is how many seconds of media are buffered from the
  // playback position on, without a gap.
  function bufferAhead() {
    var b = video.buffered;
    var t = video.currentTime;
    for (var i = 0; i < b.length; i++) {
      // hls.js treats gaps under 0.1 s as none; so does this.
      if (b.start(i) <= t + 0.1 && t < b.end(i)) {
        return b.end(i) - t;
      }
    }
    return 0;
  }

  // playingDate is the EXT-X-PROGRAM-DATE-TIME of the frame on screen, in
  // ms since the epoch, or null if the playlist has none.
  function playingDate() {
    if (hls) {
      var d = hls.playingDate;
      return d ? d.getTime() : null;
    }
    // Safari's native player: the date of the stream's start.
    if (video.getStartDate) {
      var start = video.getStartDate().getTime();
      if (!isNaN(start)) {
        return start + video.currentTime * 1000;
      }
    }
    return null;
  }

  // stats returns a snapshot of the player as plain JSON values (seconds
  // unless named otherwise; null when unknown):
  //   at            Date.now() when taken (ms)
  //   state         #player's data-state
  //   engine        'hls.js', 'native' or '' (not playing anything)
  //   currentTime   the video's position
  //   latency       hls.js's estimate: live edge of the playlist - position
  //   pdtLatency    Date.now() - EXT-X-PROGRAM-DATE-TIME of the frame shown:
  //                 the delay since that frame reached the server
  //   targetLatency the latency hls.js holds (PART-HOLD-BACK on LL)
  //   bufferAhead   media buffered from the position on
  //   playbackRate  above 1 while hls.js catches up with the target
  //   level         index of the level playing (hls.levels, by bitrate), -1
  //   loadLevel     index of the level being loaded, -1
  //   autoLevel     whether hls.js picks the level (ABR)
  //   levels        how many levels the master lists
  //   width, height, bitrate  of the level playing (0 when unknown)
  //   ll            whether the level's playlist has parts (EXT-X-PART) and
  //                 hls.js loads them: low-latency HLS is on
  //   canBlockReload, partTarget, partHoldBack  of that playlist
  //   droppedFrames, totalFrames  of the video since the page loaded
  //   starts, stalls, emptyStalls, bufferStalls (hls.js's
  //                 BUFFER_STALLED_ERROR), switches (LEVEL_SWITCHED),
  //                 fatalErrors  the counts above
  //   stalledSeconds  time spent stalled, the stall going on included
  //   switchedTo    the levels of the last 32 LEVEL_SWITCHED, oldest first
  function stats() {
    var s = {
      at: Date.now(),
      state: player.dataset.state || '',
      engine: hls ? 'hls.js' : (video.currentSrc ? 'native' : ''),
      currentTime: video.currentTime,
      latency: null,
      pdtLatency: null,
      targetLatency: null,
      bufferAhead: bufferAhead(),
      playbackRate: video.playbackRate,
      level: -1,
      loadLevel: -1,
      autoLevel: true,
      levels: 0,
      width: 0,
      height: 0,
      bitrate: 0,
      ll: false,
      canBlockReload: false,
      partTarget: 0,
      partHoldBack: 0,
      droppedFrames: 0,
      totalFrames: 0,
      starts: counts.starts,
      stalls: counts.stalls,
      emptyStalls: counts.emptyStalls,
      stalledSeconds: (counts.stalledMs + (stalledSince ? Date.now() - stalledSince : 0)) / 1000,
      bufferStalls: counts.bufferStalls,
      switches: counts.switches,
      fatalErrors: counts.fatalErrors,
      switchedTo: switchedTo.slice()
    };
    var date = playingDate();
    if (date !== null) {
      s.pdtLatency = (s.at - date) / 1000;
    }
    if (video.getVideoPlaybackQuality) {
      var q = video.getVideoPlaybackQuality();
      s.droppedFrames = q.droppedVideoFrames;
      s.totalFrames = q.totalVideoFrames;
    }
    if (!hls) {
      return s;
    }
    s.targetLatency = hls.targetLatency;
    if (s.targetLatency !== null) {
      s.latency = hls.latency; // 0 until it knows, like targetLatency null
    }
    s.level = hls.currentLevel;
    s.loadLevel = hls.loadLevel;
    s.autoLevel = hls.autoLevelEnabled;
    s.levels = hls.levels.length;
    var l = hls.levels[s.level];
    if (l) {
      s.width = l.width || 0;
      s.height = l.height || 0;
      s.bitrate = l.bitrate || 0;
    }
    // The playlist loaded last tells whether LL is on: the playing level's,
    // or during a switch the next one's.
    var d = (l && l.details) || (hls.levels[s.loadLevel] && hls.levels[s.loadLevel].details);
    if (d) {
      s.ll = hls.config.lowLatencyMode && !!d.partList && d.partList.length > 0;
      s.canBlockReload = !!d.canBlockReload;
      s.partTarget = d.partTarget || 0;
      s.partHoldBack = d.partHoldBack || 0;
    }
    return s;
  }

  // setLevel switches to level index of hls.levels (-1: automatic) as
  // how says: 'load' loads it from the next fragment on, keeping all that
  // is buffered, as ABR does; 'next' (the default) plays it from the next
  // fragment, loading again what is buffered after that; 'now' at once,
  // dropping the buffer (what the quality menu does). It returns false
  // where it cannot switch (no hls.js, no such level).
  function setLevel(index, how) {
    if (!hls || index < -1 || index >= hls.levels.length) {
      return false;
    }
    if (how === 'now') {
      hls.currentLevel = index;
    } else if (how === 'load') {
      hls.loadLevel = index;
    } else {
      hls.nextLevel = index;
    }
    quality.value = String(index);
    return true;
  }

  window.__livestream = Object.freeze({ stats: stats, setLevel: setLevel });

  // The overlay: refreshed twice a second while it shows.
  var statsTimer = 0;
  var statsFields = {};
  ['latency', 'pdt', 'target', 'buffer', 'level', 'dropped', 'stalls', 'll'].forEach(function (k) {
    statsFields[k] = document.getElementById('stats-' + k);
  });

  function secs(v) {
    return v === null || !isFinite(v) ? '–' : v.toFixed(2) + ' s';
  }

  function showStats() {
    var s = stats();
    var f = statsFields;
    f.latency.textContent = secs(s.latency);
    f.pdt.textContent = s.pdtLatency === null ? 'no PDT' : secs(s.pdtLatency);
    f.target.textContent = secs(s.targetLatency) +
      (s.playbackRate !== 1 ? ' (at ' + s.playbackRate.toFixed(2) + '×)' : '');
    f.buffer.textContent = secs(s.bufferAhead);
    if (s.engine === 'native') {
      f.level.textContent = 'chosen by the browser';
    } else if (s.level < 0) {
      f.level.textContent = '–';
    } else {
      f.level.textContent = (s.height ? s.height + 'p · ' : '') + Math.round(s.bitrate / 1000) + ' kb/s' +
        (s.autoLevel ? ' (Auto)' : '');
    }
    f.dropped.textContent = s.droppedFrames + ' of ' + s.totalFrames + ' frames';
    f.stalls.textContent = s.stalls + (s.stalls ? ', ' + s.stalledSeconds.toFixed(1) + ' s' : '');
    if (s.engine === 'native') {
      f.ll.textContent = 'unknown (native player)';
    } else if (s.ll) {
      f.ll.textContent = 'on: parts of ' + s.partTarget.toFixed(2) + ' s' +
        (s.canBlockReload ? ', blocking reload' : ', no blocking reload');
    } else {
      f.ll.textContent = 'off';
    }
  }

  function setStatsShown(on) {
    statsPanel.hidden = !on;
    statsToggle.setAttribute('aria-pressed', on ? 'true' : 'false');
    clearInterval(statsTimer);
    statsTimer = 0;
    if (on) {
      showStats();
      statsTimer = setInterval(showStats, 500);
    }
  }

  statsToggle.addEventListener('click', function () {
    setStatsShown(statsPanel.hidden);
  });
  document.addEventListener('keydown', function (e) {
    if ((e.key !== 's' && e.key !== 'S') || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) {
      return;
    }
    var t = e.target;
    if (t && (t.isContentEditable || /^(INPUT|SELECT|TEXTAREA)$/.test(t.tagName))) {
      return; // typing, or choosing a quality by its first letter
    }
    setStatsShown(statsPanel.hidden);
  });

  check();
})();
