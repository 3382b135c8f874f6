/* Bộ đĩa / media set: what the other discs of this set hold (archiver media).
 *
 * Loaded after assets/site.js by the pages made for a disc (home, years, classes,
 * quarantine, check); never by a student page, which is the archive's own page as it
 * is (archiver/site: student pages depend on nothing but their transcript). The catalogue under
 * catalogue/ is laid out as the site's own search index, so HB.search reads it as it
 * is; its records name the disc that holds each student (archiver/media/catalogue.py):
 * folded name, name, birth date, class, school year, school, verdict, disc, package,
 * student code.
 */
(function () {
  'use strict';
  var HB = window.HB;
  if (!HB || !HB.load) { return; }
  var SRC = { dir: 'catalogue/', kind: 'k' };
  var K = { name: 1, birth: 2, cls: 3, year: 4, school: 5, verdict: 6, volume: 7, pkg: 8, student: 9 };
  var manifest = HB.load('catalogue/index.js', 'km', 'index');

  function disc(m, n) {
    var v = (m.volumes || [])[n - 1] || {};
    return { vi: 'đĩa ' + n + '/' + m.count, en: 'disc ' + n + ' of ' + m.count, label: v.label || '' };
  }

  /* Every page that loads this: which disc of which set this is. */
  manifest.then(function (m) {
    if (!m) { return; }
    var main = document.getElementById('main');
    if (!main) { return; }
    var here = disc(m, m.volume);
    var box = document.createElement('p');
    box.className = 'notice media-disc';
    box.id = 'media-disc';
    box.appendChild(HB.el('strong', 'Đây là ' + here.vi, 'This is ' + here.en));
    box.appendChild(HB.el('span', ' của bộ đĩa ' + m.set + ' (nhãn ' + here.label + ').',
                          ' of media set ' + m.set + ' (label ' + here.label + ').'));
    main.insertBefore(box, main.firstChild);
    if (document.body.getAttribute('data-page') === 'home') { setTable(m, main); }
  });

  /* Home page: every disc of the set and the classes on it. */
  function setTable(m, main) {
    var section = document.createElement('section');
    section.className = 'card media-set';
    section.id = 'bo-dia';
    section.appendChild(HB.el('h2', 'Bộ đĩa: ' + m.count + ' đĩa', 'Media set: ' + m.count + ' discs'));
    var table = document.createElement('table');
    var head = document.createElement('tr');
    [['Đĩa', 'Disc'], ['Nhãn', 'Label'], ['Năm học', 'School years'], ['Các lớp', 'Classes']].forEach(function (h) {
      var th = HB.el('th', h[0], h[1]);
      th.setAttribute('scope', 'col');
      head.appendChild(th);
    });
    var thead = document.createElement('thead');
    thead.appendChild(head);
    table.appendChild(thead);
    var body = document.createElement('tbody');
    (m.volumes || []).forEach(function (v) {
      var tr = document.createElement('tr');
      if (v.number === m.volume) { tr.className = 'current'; }
      [v.number + '/' + m.count, v.label, (v.years || []).join(', '), (v.classes || []).join(', ')].forEach(function (t) {
        var td = document.createElement('td');
        td.textContent = t;
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    var scroll = document.createElement('div');
    scroll.className = 'table-scroll';
    scroll.appendChild(table);
    section.appendChild(scroll);
    var search = document.getElementById('tim-kiem');
    main.insertBefore(section, search ? search.nextSibling : null);
    HB.applyLang(section);
  }

  /* After each search of this disc: the matches on the other discs of the set. */
  HB.afterSearch = function (q, results, current) {
    var shown = document.getElementById('results');
    if (shown) { shown.removeAttribute('data-elsewhere'); }
    if (!q) { return; }
    Promise.all([manifest, HB.search(q, SRC)]).then(function (got) {
      var m = got[0], found = got[1];
      var box = document.getElementById('results');
      if (!box || !current()) { return; }
      if (!m) { box.setAttribute('data-elsewhere', '0'); return; }
      var old = document.getElementById('media-elsewhere');
      if (old) { old.parentNode.removeChild(old); }
      var elsewhere = [];
      (found.records || []).forEach(function (rec) {
        var r = typeof rec === 'string' ? rec.split('\t') : rec;
        if (String(r[K.volume]) !== String(m.volume)) { elsewhere.push(r); }
      });
      box.setAttribute('data-elsewhere', String(elsewhere.length));  // the catalogue has answered
      if (!elsewhere.length) { return; }
      var here = results.total !== undefined ? results.total : (results.records || []).length;
      var section = document.createElement('div');
      section.id = 'media-elsewhere';
      section.className = 'media-elsewhere';
      section.setAttribute('data-count', String(elsewhere.length));
      section.appendChild(here
        ? HB.el('p', 'Trên các đĩa khác của bộ: ' + elsewhere.length + ' học bạ.',
                'On other discs of this set: ' + elsewhere.length + ' transcript' + (elsewhere.length === 1 ? '' : 's') + '.', 'summary')
        : HB.el('p', 'Không có trên đĩa này, nhưng có trên đĩa khác của bộ (' + elsewhere.length + ' học bạ):',
                'Not on this disc, but on another disc of this set (' + elsewhere.length + ' transcript' + (elsewhere.length === 1 ? '' : 's') + '):', 'summary'));
      var list = document.createElement('ol');
      list.className = 'hits';
      elsewhere.slice(0, 50).forEach(function (r) {
        var where = disc(m, Number(r[K.volume]));
        var li = document.createElement('li');
        li.className = 'elsewhere';
        li.setAttribute('data-volume', r[K.volume]);
        var name = document.createElement('strong');
        name.className = 'hit-name';
        name.textContent = r[K.name];
        li.appendChild(name);
        li.appendChild(document.createTextNode(' '));
        li.appendChild(HB.badge(r[K.verdict]));
        li.appendChild(document.createTextNode(' '));
        li.appendChild(HB.el('span', 'trên ' + where.vi + ' (nhãn ' + where.label + ')',
                             'on ' + where.en + ' (label ' + where.label + ')', 'tag tag-new where'));
        li.appendChild(HB.hitMeta([['Ngày sinh', 'Born', r[K.birth]], ['Lớp', 'Class', r[K.cls] + ' · ' + r[K.year]],
                                   ['Mã HS', 'Student code', r[K.student]], ['Gói', 'Package', r[K.pkg]]]));
        list.appendChild(li);
      });
      section.appendChild(list);
      box.appendChild(section);
    });
  };
})();
