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
(function () {
  'use strict';

  var player = document.getElementById('player');
  var video = document.getElementById('video');
  var statusText = document.getElementById('status');
  var quality = document.getElementById('quality');
  var qualityLabel = document.getElementById('quality-label');
  var src = new URL(player.dataset.src, location.href).href;
  var retryMs = Number(player.dataset.retryMs) || 3000;

  var hls = null;
  var mediaRecovered = false;
  // timer is the pending check; waiting is true from retryLater until that
  // check starts, also while the tab is hidden and no timer runs.
  var timer = 0;
  var waiting = false;
  var checking = false;

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
    hls = new Hls();
    hls.on(Hls.Events.MANIFEST_PARSED, function (_, data) {
      showLevels(data.levels);
      play();
    });
    hls.on(Hls.Events.LEVEL_SWITCHED, function (_, data) {
      var l = hls.levels[data.level];
      quality.options[0].textContent = hls.autoLevelEnabled && l ? 'Auto (' + levelName(l) + ')' : 'Auto';
    });
    hls.on(Hls.Events.ERROR, function (_, data) {
      if (!data.fatal) {
        return; // hls.js retries these itself
      }
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
    setState('playing');
  });
  video.addEventListener('ended', function () {
    // Only a playlist with EXT-X-ENDLIST lets a video end: a live one
    // waits for more segments.
    stop();
    setState('ended');
    retryLater();
  });

  check();
})();
