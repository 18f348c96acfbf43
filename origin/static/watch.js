// The watch page's player. It plays #player's data-src (the master
// playlist) with hls.js, or natively where the browser plays HLS itself
// (Safari on iOS) and hls.js cannot, and keeps #player's data-state:
//
//   loading  checking whether the stream is live, or starting it
//   offline  not live (the master is 404); checked again every data-retry-ms
//   playing  video is playing
//   ended    the playlist has EXT-X-ENDLIST and playback reached its end
//   error    a fatal error; data-error names it, and the page starts over
//            after data-retry-ms
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
  var timer = 0;
  var mediaRecovered = false;

  var messages = {
    loading: 'Connecting…',
    offline: 'Offline. The stream starts here as soon as it is live.',
    playing: 'Live',
    ended: 'The stream has ended.',
    error: 'Playback failed; trying again.'
  };

  function setState(state, detail) {
    player.dataset.state = state;
    statusText.textContent = messages[state] + (detail ? ' (' + detail + ')' : '');
  }

  function retryLater() {
    clearTimeout(timer);
    timer = setTimeout(check, retryMs);
  }

  // check asks for the master playlist: a 404 means the stream is not live.
  function check() {
    fetch(src, { method: 'HEAD', cache: 'no-store' }).then(function (r) {
      if (r.ok) {
        start();
      } else {
        setState('offline');
        retryLater();
      }
    }, function () {
      setState('offline', 'server unreachable');
      retryLater();
    });
  }

  function start() {
    setState('loading');
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
        check(); // most likely the stream is gone: offline, or live again
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
  });

  check();
})();
