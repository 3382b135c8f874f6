/* Tra cứu học bạ số: language switch, shard loader and search.
 *
 * Works from file:// with no server: index shards are script files that call
 * HB_REG(kind, key, data); they are loaded on demand with <script> tags, because
 * file:// pages cannot fetch() JSON. fold(), codeKey() and fnv1a() must stay identical
 * to archiver/site/text.py (the tests compare both sides).
 */
(function () {
  'use strict';
  var HB = window.HB = window.HB || {};
  var root = document.body.getAttribute('data-root') || '';
  var store = {};
  var loading = {};

  window.HB_REG = function (kind, key, data) { store[kind + ':' + key] = data; };

  /* Load a shard once; resolves with its data, or null when it is missing. */
  HB.load = function (path, kind, key) {
    var id = kind + ':' + key;
    if (store[id] !== undefined) { return Promise.resolve(store[id]); }
    if (!loading[id]) {
      loading[id] = new Promise(function (resolve) {
        var s = document.createElement('script');
        s.src = root + path;
        s.charset = 'utf-8';
        s.async = true;
        s.onload = function () { resolve(store[id] === undefined ? null : store[id]); };
        s.onerror = function () { delete loading[id]; resolve(null); };
        document.head.appendChild(s);
      });
    }
    return loading[id];
  };

  HB.fold = function (text) {
    return String(text || '').normalize('NFD').replace(/[\u0300-\u036f]/g, '')
      .toLowerCase().replace(/đ/g, 'd').replace(/[^a-z0-9]+/g, ' ').trim();
  };
  HB.codeKey = function (text) { return String(text || '').toLowerCase().replace(/[^a-z0-9]/g, ''); };
  HB.fnv1a = function (text) {
    var bytes = new TextEncoder().encode(text);
    var h = 0x811c9dc5;
    for (var i = 0; i < bytes.length; i++) { h = Math.imul(h ^ bytes[i], 0x01000193) >>> 0; }
    return h >>> 0;
  };

  /* -- language ------------------------------------------------------------------ */
  var ATTRS = [['data-en-label', 'aria-label'], ['data-en-placeholder', 'placeholder']];
  HB.lang = 'vi';
  HB.applyLang = function (scope) {
    var en = HB.lang === 'en';
    (scope || document).querySelectorAll('[data-en]').forEach(function (el) {
      if (el.getAttribute('data-vi') === null) { el.setAttribute('data-vi', el.textContent); }
      el.textContent = en ? el.getAttribute('data-en') : el.getAttribute('data-vi');
    });
    ATTRS.forEach(function (pair) {
      (scope || document).querySelectorAll('[' + pair[0] + ']').forEach(function (el) {
        var viKey = 'data-vi-' + pair[1];
        if (el.getAttribute(viKey) === null) { el.setAttribute(viKey, el.getAttribute(pair[1]) || ''); }
        el.setAttribute(pair[1], en ? el.getAttribute(pair[0]) : el.getAttribute(viKey));
      });
    });
  };
  function setLang(lang) {
    HB.lang = lang === 'en' ? 'en' : 'vi';
    document.documentElement.lang = HB.lang;
    HB.applyLang(document);
    var button = document.getElementById('lang-toggle');
    if (button) {
      button.textContent = HB.lang === 'en' ? 'Tiếng Việt' : 'English';
      button.lang = HB.lang === 'en' ? 'vi' : 'en';
      button.setAttribute('aria-pressed', HB.lang === 'en' ? 'true' : 'false');
    }
    try { localStorage.setItem('hb-lang', HB.lang); } catch (e) { /* file:// storage may be off */ }
  }
  /* Build an element whose text follows the current language. */
  HB.el = function (tag, vi, en, cls) {
    var el = document.createElement(tag);
    if (cls) { el.className = cls; }
    if (en !== undefined && en !== null) {
      el.setAttribute('data-vi', vi);
      el.setAttribute('data-en', en);
      el.textContent = HB.lang === 'en' ? en : vi;
    } else {
      el.textContent = vi;
    }
    return el;
  };
  /* A hit's line of facts, [[vi, en, value], ...]: "Ngày sinh 01/02/2010 · Lớp 8A1 · …". */
  HB.hitMeta = function (facts) {
    var meta = document.createElement('p');
    meta.className = 'hit-meta';
    facts.forEach(function (f, i) {
      meta.appendChild(HB.el('span', f[0], f[1]));
      meta.appendChild(document.createTextNode(' ' + f[2] + (i < facts.length - 1 ? ' · ' : '')));
    });
    return meta;
  };
  HB.VERDICTS = {
    V: ['valid', 'Hợp lệ', 'Valid', '✓'], I: ['invalid', 'Không hợp lệ', 'Invalid', '✗'],
    D: ['indeterminate', 'Chưa xác định', 'Indeterminate', '?'], R: ['rejected', 'Bị từ chối', 'Rejected', '⊘']
  };
  HB.badge = function (code) {
    var v = HB.VERDICTS[code] || ['none', code, code, '•'];
    var span = document.createElement('span');
    span.className = 'badge v-' + v[0];
    var sign = document.createElement('span');
    sign.setAttribute('aria-hidden', 'true');
    sign.textContent = v[3] + ' ';
    span.appendChild(sign);
    span.appendChild(HB.el('span', v[1], v[2]));
    return span;
  };

  var toggle = document.getElementById('lang-toggle');
  if (toggle) {
    toggle.hidden = false;
    toggle.addEventListener('click', function () { setLang(HB.lang === 'en' ? 'vi' : 'en'); });
  }
  var saved = null;
  try { saved = localStorage.getItem('hb-lang'); } catch (e) { saved = null; }
  if (saved === 'en') { setLang('en'); }

  /* -- search -------------------------------------------------------------------- */
  var MAX_SHOWN = 50;
  var PREFIX_LIMIT = 8000; // records a one-word prefix query may load before asking for more letters
  // Record layout (archiver/site/shards.py search_record):
  var R = { folded: 0, name: 1, birth: 2, cls: 3, year: 4, school: 5, verdict: 6, cid: 7,
            student: 8, lookup: 9, url: 10, flags: 11 };

  // Where a search looks: this site's own index, or another one laid out the same way
  // (a disc's catalogue of its whole media set, archiver/media/catalogue.py).
  var OWN = { dir: 'search/', kind: '' };
  function manifest(src) { return HB.load(src.dir + 'index.js', src.kind + 'm', 'index'); }

  function isCodeQuery(q) {
    var key = HB.codeKey(q);
    return /[0-9]/.test(q) || (key.length === 32 && /^[0-9a-f]+$/.test(key));
  }

  function byCode(q, src) {
    var key = HB.codeKey(q);
    return manifest(src).then(function (m) {
      if (!m || !key) { return { records: [] }; }
      var bucket = (HB.fnv1a(key) & (m.buckets - 1)).toString(16);
      while (bucket.length < 3) { bucket = '0' + bucket; }
      return HB.load(src.dir + 'c-' + bucket + '.js', src.kind + 'c', bucket).then(function (data) {
        return { records: (data && data[key]) || [] };
      });
    });
  }

  function byName(q, src) {
    var words = [];
    HB.fold(q).split(' ').forEach(function (w) { if (w && words.indexOf(w) < 0) { words.push(w); } });
    if (!words.length) { return Promise.resolve({ records: [] }); }
    return manifest(src).then(function (m) {
      if (!m) { return { records: [] }; }
      var chars = m.token_chars, tokens = m.tokens;
      // Cheapest set of shards: a complete word's own shard (all words but the last must
      // be whole), or every token the last, perhaps unfinished, word starts.
      var best = null;
      words.slice(0, -1).forEach(function (w) {
        var n = tokens[w.slice(0, chars)];
        if (n === undefined) { best = { keys: [], cost: 0 }; return; }
        if (!best || n < best.cost) { best = { keys: [w.slice(0, chars)], cost: n }; }
      });
      var last = words[words.length - 1], prefixKeys = [], prefixCost = 0;
      Object.keys(tokens).forEach(function (t) {
        if (t.lastIndexOf(last.slice(0, chars), 0) === 0) { prefixKeys.push(t); prefixCost += tokens[t]; }
      });
      var tooBroad = false, firstChunkOnly = false;
      if (!best && prefixCost > PREFIX_LIMIT) {
        // One short word matching much of the archive: that exact word only, and just its
        // first chunk (every name in it matches; the total comes from the manifest).
        if (tokens[last.slice(0, chars)] === undefined) { return { records: [], needMore: true }; }
        prefixKeys = [last.slice(0, chars)]; prefixCost = tokens[prefixKeys[0]];
        tooBroad = true; firstChunkOnly = true;
      }
      if (!best || (prefixCost < best.cost && best.keys.length)) {
        best = { keys: prefixKeys, cost: prefixCost };
      }
      var files = [];
      best.keys.forEach(function (k) {
        var n = firstChunkOnly ? 1 : ((m.chunks || {})[k] || 1);
        for (var i = 0; i < n; i++) { files.push(i ? k + '-' + i : k); }
      });
      return Promise.all(files.map(function (k) { return HB.load(src.dir + 'n-' + k + '.js', src.kind + 'n', k); }))
        .then(function (shards) {
          // Name shards are strings, one record per line, the folded name first: one
          // regular expression finds every matching line without parsing the others,
          // and only the lines shown are split into fields (show()).
          var re = lineMatcher(words), seen = best.keys.length > 1 ? {} : null, found = [];
          shards.forEach(function (text) {
            if (!text) { return; }
            re.lastIndex = 0;
            var m;
            while ((m = re.exec(text)) !== null) {
              if (seen) { if (seen[m[0]]) { continue; } seen[m[0]] = true; }
              found.push(m[0]);
            }
          });
          // Lines start with the folded name, so plain string order is name order (each
          // shard is already sorted); a name typed in full comes first.
          if (seen) { found.sort(); }  // chunks of one word are already in order
          var exact = words.join(' ') + '\t', first = [], rest = [];
          found.forEach(function (line) { (line.lastIndexOf(exact, 0) === 0 ? first : rest).push(line); });
          found = first.length ? first.concat(rest) : found;
          return { records: found, tooBroad: tooBroad,
                   total: firstChunkOnly ? tokens[best.keys[0]] : found.length };
        });
    });
  }

  /* A line whose folded name (up to the first tab) has every word but the last as a
   * whole word, and a word starting with the last, perhaps unfinished, one. Words are
   * [a-z0-9] only (fold), so they need no escaping. */
  function lineMatcher(words) {
    var ahead = words.map(function (w, i) {
      return '(?=[^\\t\\n]*(?:^| )' + w + (i < words.length - 1 ? '(?:[ \\t])' : '') + ')';
    }).join('');
    return new RegExp('^' + ahead + '[^\\n]*', 'gm');
  }

  HB.search = function (q, src) {
    q = String(q || '').trim();
    src = src || OWN;
    if (!q) { return Promise.resolve({ records: [] }); }
    return isCodeQuery(q) ? byCode(q, src) : byName(q, src);
  };

  function show(results, q, ms) {
    var box = document.getElementById('results');
    box.textContent = '';
    var n = results.total !== undefined ? results.total : results.records.length;
    box.setAttribute('data-count', String(n));
    box.setAttribute('data-ms', ms.toFixed(1));
    if (!q) { return; }
    if (results.needMore) {
      box.appendChild(HB.el('p', 'Quá nhiều tên bắt đầu như vậy; hãy gõ thêm chữ.',
                            'Too many names start like this; please type more letters.', 'summary'));
      return;
    }
    var summary = n
      ? HB.el('p', 'Tìm thấy ' + n + ' học bạ' + (n > MAX_SHOWN ? ', hiển thị ' + MAX_SHOWN + ' đầu tiên' : '') + '.',
              'Found ' + n + ' transcript' + (n === 1 ? '' : 's') + (n > MAX_SHOWN ? ', showing the first ' + MAX_SHOWN : '') + '.', 'summary')
      : HB.el('p', 'Không tìm thấy học bạ nào. Kiểm tra lại chính tả hoặc thử mã tra cứu, mã học sinh.',
              'No transcript found. Check the spelling, or try the lookup code or student code.', 'summary');
    box.appendChild(summary);
    if (results.tooBroad) {
      box.appendChild(HB.el('p', 'Chỉ hiện các tên có đúng từ này; gõ thêm để thu hẹp.',
                            'Showing names with exactly this word; type more to narrow down.', 'note'));
    }
    if (!n) { return; }
    var list = document.createElement('ol');
    list.className = 'hits';
    results.records.slice(0, MAX_SHOWN).forEach(function (rec) {
      var r = typeof rec === 'string' ? rec.split('\t') : rec;
      var li = document.createElement('li');
      var a = document.createElement('a');
      a.href = root + r[R.url];
      a.textContent = r[R.name];
      a.className = 'hit-name';
      li.appendChild(a);
      li.appendChild(document.createTextNode(' '));
      li.appendChild(HB.badge(r[R.verdict]));
      if (r[R.flags].indexOf('s') >= 0) {
        li.appendChild(document.createTextNode(' '));
        li.appendChild(HB.el('span', 'đã bị thay thế', 'replaced', 'tag'));
      }
      if (r[R.flags].indexOf('r') >= 0) {
        li.appendChild(document.createTextNode(' '));
        li.appendChild(HB.el('span', 'bản thay thế', 'replacement', 'tag'));
      }
      if (r[R.flags].indexOf('q') >= 0) {  /* a scanned paper transcript */
        li.appendChild(document.createTextNode(' '));
        li.appendChild(HB.el('span', 'bản quét', 'scan', 'tag tag-scan'));
      }
      li.appendChild(HB.hitMeta([['Ngày sinh', 'Born', r[R.birth]], ['Lớp', 'Class', r[R.cls] + ' · ' + r[R.year]],
                                 ['Mã HS', 'Student code', r[R.student]], ['Định danh', 'Citizen ID', r[R.cid]]]));
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  var form = document.getElementById('search-form');
  if (form) {
    var input = document.getElementById('q');
    var seq = 0, timer = null;
    var run = function () {
      var mine = ++seq, q = input.value, t0 = performance.now();
      HB.search(q).then(function (results) {
        if (mine === seq) {
          show(results, q.trim(), performance.now() - t0);
          // a script added to the site (extra_scripts) may add to the results
          if (HB.afterSearch) { HB.afterSearch(q.trim(), results, function () { return mine === seq; }); }
        }
      });
    };
    form.addEventListener('submit', function (ev) { ev.preventDefault(); clearTimeout(timer); run(); });
    input.addEventListener('input', function () { clearTimeout(timer); timer = setTimeout(run, 250); });
    var initial = new URLSearchParams(window.location.search).get('q');
    if (initial) { input.value = initial; run(); }
  }
})();
