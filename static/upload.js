/*
 * Large files that survive a broken connection: the source form's files, sent ahead in pieces.
 *
 * Progressive enhancement. Without JavaScript the form posts its files in one
 * request, as it always did. With it, when the source presses "Send" with files
 * chosen, each file is uploaded with tus 1.0.0 (tipline/intake/tus.py) in pieces;
 * when the connection breaks, the script waits a little, asks the server how much
 * arrived (HEAD) and continues from there, a bounded number of times in a row.
 * Then the form is posted as usual, without the files: with one hidden "upload"
 * field per file (its token), the page's secret and the page's form id. A server
 * that does not offer them (404 without Tus-Resumable) gets the plain form.
 *
 * The secret (32 random bytes) opens the files' key on the server. It lives in
 * this page's memory only, like everything else here: nothing is written to
 * localStorage, sessionStorage, IndexedDB or a cookie. A source who closes the
 * page loses the partial files (the server deletes them after a few days); one
 * who keeps it open can press "Send" again after a failure and continue.
 *
 * No inline script, no eval, nothing from another site (the CSP allows none);
 * every word shown comes from the page (data-text-* attributes, translated).
 */
(function () {
  "use strict";

  // A refused form comes back with its error summary first in the page: take the
  // focus there, so a screen reader reads it and a phone shows it (without
  // JavaScript it is at the top of the page anyway).
  var errorSummary = document.getElementById("error-summary");
  if (errorSummary) {
    errorSummary.focus();
  }

  var TUS_VERSION = "1.0.0";
  // Bytes per PATCH: a multiple of the server's 64 KiB cipher chunk, so a
  // finished request ends on a chunk boundary and nothing is sent twice.
  var PATCH_BYTES = 16 * 1024 * 1024;
  // Attempts in a row without progress before giving up, and the waits between them (ms).
  var BACKOFF = [1000, 2000, 4000, 8000, 15000, 30000, 30000, 30000];
  // A request whose upload shows no progress for this long is taken as dead.
  var STALL_MS = 90000;
  // Speed is measured over this much recent time.
  var SPEED_WINDOW_MS = 15000;

  var form = document.querySelector("form[data-upload-url]");
  var panel = document.getElementById("upload-progress");
  if (!form || !panel || !window.XMLHttpRequest || !window.Promise || !window.TextEncoder ||
      !window.crypto || !window.crypto.getRandomValues) {
    return; // the plain form works as it is
  }
  var input = form.querySelector('input[type="file"][name="files"]');
  var button = form.querySelector('button[type="submit"]');
  if (!input) {
    return;
  }
  var words = panel.dataset;
  var number = new Intl.NumberFormat(document.documentElement.lang || undefined, {
    maximumFractionDigits: 1
  });
  var uploadUrl = form.getAttribute("data-upload-url");
  var MIB = 1024 * 1024;
  var limits = {
    files: parseInt(form.getAttribute("data-max-files"), 10) || 0,
    file: (parseInt(form.getAttribute("data-max-file-mb"), 10) || 0) * MIB,
    tip: (parseInt(form.getAttribute("data-max-tip-mb"), 10) || 0) * MIB
  };

  // This page's identity for its uploads: in memory only, gone with the page.
  var secret = base64url(randomBytes(32));
  var formId = base64url(randomBytes(16));
  var uploads = [];
  var busy = false;
  var samples = [];
  var retries = 0;

  form.addEventListener("submit", function (event) {
    if (busy) {
      event.preventDefault();
      return;
    }
    var files = Array.prototype.slice.call(input.files || []);
    if (!files.length || !withinLimits(files)) {
      return; // nothing to send ahead, or the server explains the limits as without JavaScript
    }
    event.preventDefault();
    start(files);
  });

  window.addEventListener("beforeunload", function (event) {
    if (busy) {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  function withinLimits(files) {
    var total = 0;
    for (var i = 0; i < files.length; i++) {
      if (files[i].size > limits.file) {
        return false;
      }
      total += files[i].size;
    }
    return files.length <= limits.files && total <= limits.tip;
  }

  // --- The run -------------------------------------------------------------------------------

  function start(files) {
    // The same files chosen again after a failure continue where they stopped.
    uploads = files.map(function (file) {
      for (var i = 0; i < uploads.length; i++) {
        if (uploads[i].file === file) {
          return uploads[i];
        }
      }
      return { file: file, location: null, offset: 0, sent: 0, done: false };
    });
    busy = true;
    retries = 0;
    samples = [];
    if (button) {
      button.disabled = true;
    }
    panel.hidden = false;
    panel.setAttribute("data-retries", panel.getAttribute("data-retries") || "0");
    drawFiles();
    status("");
    sendAll().then(submitForm, function (error) {
      busy = false;
      if (error && error.unsupported) {
        // No resumable uploads on this server (another server in front, a development
        // one): the form sends its files itself, as without JavaScript.
        panel.hidden = true;
        form.submit();
        return;
      }
      if (button) {
        button.disabled = false;
      }
      status(error && error.fatal ? words.textRefused : words.textFailed);
    });
  }

  function sendAll() {
    var chain = Promise.resolve();
    uploads.forEach(function (upload) {
      chain = chain.then(function () {
        return upload.done ? null : sendOne(upload);
      });
    });
    return chain;
  }

  function sendOne(upload) {
    var ready = upload.location ? Promise.resolve() : attempt(function () {
      return create(upload);
    });
    return ready.then(function next() {
      if (upload.offset >= upload.file.size) {
        upload.done = true;
        upload.sent = upload.file.size;
        draw();
        return null;
      }
      var before = upload.offset;
      return patch(upload).then(function () {
        if (upload.offset > before) {
          retries = 0; // progress: the count of attempts in a row starts again
        }
        return next();
      }, function (error) {
        if (error.fatal) {
          throw error;
        }
        // The connection broke (or the browser sent the piece again on its own, and the
        // server answered 409): after a short wait, ask the server how much arrived.
        return pause().then(function () {
          status(words.textResuming);
          return attempt(function () {
            return head(upload);
          });
        }).then(function () {
          if (upload.offset > before) {
            retries = 0;
          }
          status("");
          return next();
        });
      });
    });
  }

  // ``step`` again after a wait while it fails for a reason that may pass.
  function attempt(step) {
    return step().then(null, function (error) {
      if (error.fatal) {
        throw error;
      }
      return pause().then(function () {
        return attempt(step);
      });
    });
  }

  // Count one more attempt in a row and wait, saying so; give up after the last.
  function pause() {
    if (retries >= BACKOFF.length) {
      return Promise.reject({ fatal: false, exhausted: true });
    }
    var wait = BACKOFF[retries];
    retries += 1;
    panel.setAttribute("data-retries", String(parseInt(panel.getAttribute("data-retries"), 10) + 1));
    return new Promise(function (resolve) {
      var left = Math.ceil(wait / 1000);
      function tick() {
        if (left <= 0) {
          resolve();
          return;
        }
        status(words.textRetrying.replace("{seconds}", String(left)));
        left -= 1;
        window.setTimeout(tick, 1000);
      }
      tick();
    });
  }

  function submitForm() {
    busy = false;
    status(words.textSending);
    Array.prototype.slice.call(form.querySelectorAll("input.upload-field")).forEach(function (old) {
      old.parentNode.removeChild(old);
    });
    uploads.forEach(function (upload) {
      hidden("upload", upload.location.split("/").pop());
    });
    hidden("upload_secret", secret);
    hidden("upload_form", formId);
    // The files went ahead: the form carries none (a disabled field is not sent).
    input.value = "";
    input.disabled = true;
    form.submit();
  }

  function hidden(name, value) {
    var field = document.createElement("input");
    field.type = "hidden";
    field.name = name;
    field.value = value;
    field.className = "upload-field";
    form.appendChild(field);
  }

  // --- The requests ----------------------------------------------------------------------------

  function create(upload) {
    var tokenField = form.querySelector('input[name="form_token"]');
    // A source's conversation page: the server finds the visit from the cookie
    // and puts the file under the conversation's key, not a new tip's.
    var binding = form.getAttribute("data-upload-for") === "visit"
      ? "visit " + base64(utf8("1"))
      : "form_token " + base64(utf8(tokenField ? tokenField.value : ""));
    var metadata = [
      "filename " + base64(utf8(upload.file.name)),
      binding,
      "form_id " + base64(utf8(formId))
    ].join(",");
    return send("POST", uploadUrl, {
      "Upload-Length": String(upload.file.size),
      "Upload-Metadata": metadata
    }, null, null).then(function (xhr) {
      var location = xhr.getResponseHeader("Location");
      if ((xhr.status === 404 || xhr.status === 405) && !xhr.getResponseHeader("Tus-Resumable")) {
        throw { fatal: true, unsupported: !uploads.some(function (each) { return each.location; }) };
      }
      if (xhr.status !== 201 || !location) {
        throw failure(xhr.status);
      }
      upload.location = location;
      upload.offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10) || 0;
      upload.sent = upload.offset;
    });
  }

  function head(upload) {
    return send("HEAD", upload.location, {}, null, null).then(function (xhr) {
      var offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
      if (xhr.status !== 200 || isNaN(offset)) {
        throw failure(xhr.status);
      }
      upload.offset = offset;
      upload.sent = offset;
      draw();
    });
  }

  function patch(upload) {
    var end = Math.min(upload.offset + PATCH_BYTES, upload.file.size);
    var start = upload.offset;
    return send("PATCH", upload.location, {
      "Upload-Offset": String(start),
      "Content-Type": "application/offset+octet-stream"
    }, upload.file.slice(start, end), function (loaded) {
      upload.sent = start + loaded;
      draw();
    }).then(function (xhr) {
      var offset = parseInt(xhr.getResponseHeader("Upload-Offset"), 10);
      if (xhr.status !== 204 || isNaN(offset)) {
        throw failure(xhr.status);
      }
      upload.offset = offset;
      upload.sent = offset;
      draw();
    });
  }

  // Statuses that no retry will change; anything else (a lost connection, 409 for a
  // piece the browser sent twice, 5xx, 423 while the server lets go of a dead one) may pass.
  function failure(code) {
    var fatal = [400, 403, 404, 405, 410, 412, 413, 415, 507].indexOf(code) >= 0;
    return { fatal: fatal, status: code };
  }

  function send(method, url, headers, body, onProgress) {
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      var watchdog = null;
      function settle(handler, value) {
        window.clearTimeout(watchdog);
        handler(value);
      }
      function stalled() {
        window.clearTimeout(watchdog);
        watchdog = window.setTimeout(function () {
          xhr.abort();
        }, STALL_MS);
      }
      xhr.open(method, url, true);
      xhr.setRequestHeader("Tus-Resumable", TUS_VERSION);
      xhr.setRequestHeader("Tipline-Upload-Secret", secret);
      Object.keys(headers).forEach(function (name) {
        xhr.setRequestHeader(name, headers[name]);
      });
      if (xhr.upload && onProgress) {
        xhr.upload.onprogress = function (event) {
          stalled();
          onProgress(event.loaded);
        };
      }
      xhr.onload = function () {
        settle(resolve, xhr);
      };
      xhr.onerror = xhr.onabort = xhr.ontimeout = function () {
        settle(reject, { fatal: false, status: 0 });
      };
      stalled();
      xhr.send(body);
    });
  }

  // --- What the source sees --------------------------------------------------------------------

  function drawFiles() {
    var list = panel.querySelector(".upload-files");
    while (list.firstChild) {
      list.removeChild(list.firstChild);
    }
    uploads.forEach(function (upload) {
      var item = document.createElement("li");
      var name = document.createElement("span");
      name.className = "upload-name";
      name.textContent = upload.file.name;
      var bar = document.createElement("progress");
      bar.max = Math.max(upload.file.size, 1);
      var state = document.createElement("span");
      state.className = "upload-state";
      item.appendChild(name);
      item.appendChild(bar);
      item.appendChild(state);
      list.appendChild(item);
      upload.bar = bar;
      upload.state = state;
    });
    draw();
  }

  function draw() {
    var total = 0;
    var sent = 0;
    uploads.forEach(function (upload) {
      total += upload.file.size;
      sent += Math.min(upload.sent, upload.file.size);
      if (upload.bar) {
        upload.bar.value = upload.done ? upload.bar.max : Math.min(upload.sent, upload.file.size);
        upload.state.textContent = upload.done ? words.textDone :
          (upload.sent > 0 ? percent(upload.sent, upload.file.size) + " %" : words.textWaiting);
      }
    });
    var bar = document.getElementById("upload-total-bar");
    bar.max = Math.max(total, 1);
    bar.value = sent;
    var now = Date.now();
    samples.push([now, sent]);
    while (samples.length > 2 && now - samples[0][0] > SPEED_WINDOW_MS) {
      samples.shift();
    }
    var seconds = (now - samples[0][0]) / 1000;
    var speed = seconds > 0.5 ? Math.max(sent - samples[0][1], 0) / seconds : 0;
    var remaining = speed > 0 ? (total - sent) / speed : null;
    panel.querySelector(".upload-total-text").textContent = words.textProgress
      .replace("{percent}", String(percent(sent, total)))
      .replace("{speed}", speed > 0 ? rate(speed) : "…")
      .replace("{remaining}", remaining === null ? "…" : duration(remaining));
  }

  function status(message) {
    panel.querySelector(".upload-status").textContent = message;
  }

  function percent(part, whole) {
    return whole > 0 ? Math.floor((part / whole) * 100) : 100;
  }

  function rate(bytesPerSecond) {
    if (bytesPerSecond >= 1e6) {
      return number.format(bytesPerSecond / 1e6) + " MB/s";
    }
    return number.format(bytesPerSecond / 1e3) + " kB/s";
  }

  function duration(seconds) {
    var whole = Math.ceil(seconds);
    var hours = Math.floor(whole / 3600);
    var minutes = Math.floor((whole % 3600) / 60);
    var rest = whole % 60;
    var mm = hours ? String(minutes).padStart(2, "0") : String(minutes);
    return (hours ? hours + ":" : "") + mm + ":" + String(rest).padStart(2, "0");
  }

  // --- Bytes ---------------------------------------------------------------------------------------

  function randomBytes(count) {
    var bytes = new Uint8Array(count);
    window.crypto.getRandomValues(bytes);
    return bytes;
  }

  function utf8(text) {
    return new TextEncoder().encode(text);
  }

  function base64(bytes) {
    var binary = "";
    for (var i = 0; i < bytes.length; i++) {
      binary += String.fromCharCode(bytes[i]);
    }
    return window.btoa(binary);
  }

  function base64url(bytes) {
    return base64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
})();
